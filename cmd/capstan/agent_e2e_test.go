package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/nodeagent/agent"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// startAgent starts an agent in c and waits until its nodes are Ready.
func startAgent(t *testing.T, c *cluster.Cluster, ac cluster.AgentConfig) *cluster.Agent {
	t.Helper()
	a, err := c.StartAgent(ctxTimeout(t, time.Minute), ac)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.WaitNodesReady(ctxTimeout(t, time.Minute), a); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d node(s) of agent %s Ready after %s", len(a.Nodes), a.Name, time.Since(start).Round(time.Millisecond))
	return a
}

// deletePodsAtCleanup deletes, when the test ends, the Deployments and pods of the default
// namespace and waits until the agents have removed every pod: containers outlive their
// agent by design, so they must be stopped before the cluster is.
func deletePodsAtCleanup(t *testing.T, k *apitest.Kubectl, cs kubernetes.Interface) {
	t.Cleanup(func() {
		k.Must("", "delete", "deployment", "--all", "--wait=false")
		k.Must("", "delete", "pod", "--all", "--wait=false")
		waitFor(t, 3*time.Minute, "every pod deleted", func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pods, err := cs.CoreV1().Pods(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
		})
	})
}

// skipWithoutContainers skips the test when this host cannot run containers or kubectl is
// missing.
func skipWithoutContainers(t *testing.T) {
	t.Helper()
	if err := runtime.CheckHost(); err != nil {
		t.Skipf("this host cannot run containers: %v", err)
	}
	if _, err := os.Stat(apitest.KubectlPath); err != nil {
		t.Skipf("kubectl is not installed at %s", apitest.KubectlPath)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s (%s)", what, timeout, state)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// nodeReadyStatus returns the node's Ready condition status.
func nodeReadyStatus(ctx context.Context, cs kubernetes.Interface, name string) corev1.ConditionStatus {
	n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "error: " + corev1.ConditionStatus(err.Error())
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return "none"
}

// TestAgentRunsPods starts three masters and one real agent (private containerd, CNI) and
// drives the real kubectl: the node is Ready, a deployment becomes available, logs and exec
// work through the kubelet API, deleting a pod completes; then the agent dies (the node goes
// NotReady through gossip) and comes back with its saved identity.
func TestAgentRunsPods(t *testing.T) {
	skipWithoutContainers(t)
	c := startCluster(t, 3)
	k := apitest.NewKubectl(t, c.Kubeconfig())
	a := startAgent(t, c, cluster.AgentConfig{Name: "a1", ImportTestImage: true})

	if out := k.Must("", "get", "nodes", "-o", "wide"); !strings.Contains(out, "a1") || !strings.Contains(out, " Ready ") || !strings.Contains(out, "containerd://") {
		t.Fatalf("kubectl get nodes:\n%s\nwant a1 Ready with a containerd runtime", out)
	}
	script := `trap "exit 0" TERM; echo hello; sleep 3600 & wait`
	k.Must("", "create", "deployment", "web", "--image="+testImageName, "--", "sh", "-c", script)
	start := time.Now()
	k.Must("", "rollout", "status", "deployment/web", "--timeout=60s")
	t.Logf("deployment available after %s", time.Since(start).Round(time.Millisecond))
	if out := k.Must("", "logs", "deploy/web"); strings.TrimSpace(out) != "hello" {
		t.Errorf("kubectl logs deploy/web = %q; want hello", out)
	}
	pod := strings.TrimSpace(k.Must("", "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"))
	if out := k.Must("", "exec", pod, "--", "echo", "ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("kubectl exec %s -- echo ok = %q; want ok", pod, out)
	}
	start = time.Now()
	k.Must("", "delete", "pod", pod, "--timeout=30s")
	t.Logf("pod deleted after %s", time.Since(start).Round(time.Millisecond))
	k.Must("", "rollout", "status", "deployment/web", "--timeout=60s")
	k.Must("", "delete", "deployment", "web")
	k.Must("", "wait", "--for=delete", "pod", "-l", "app=web", "--timeout=30s")

	// The agent dies: gossip makes the node NotReady; restarted with its data directory only,
	// it is Ready again.
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[0]))
	ctx := ctxTimeout(t, time.Minute)
	if err := c.KillAgent(a); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(t, 30*time.Second, "node a1 NotReady after its agent died", func() (bool, string) {
		s := nodeReadyStatus(ctx, cs, "a1")
		return s == corev1.ConditionUnknown, string(s)
	})
	t.Logf("node NotReady %s after its agent was killed", time.Since(killed).Round(time.Millisecond))
	if err := c.RestartAgent(a); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesReady(ctx, a); err != nil {
		t.Fatal(err)
	}
}

// TestHollowNodes runs 50 hollow nodes in one agent process: they register Ready, a
// 100-replica deployment becomes available on them, and a restart needs no token.
func TestHollowNodes(t *testing.T) {
	if _, err := os.Stat(apitest.KubectlPath); err != nil {
		t.Skipf("kubectl is not installed at %s", apitest.KubectlPath)
	}
	c := startCluster(t, 3)
	k := apitest.NewKubectl(t, c.Kubeconfig())
	a := startAgent(t, c, cluster.AgentConfig{Name: "hollow", Hollow: 50})

	out := k.Must("", "get", "nodes", "-l", agent.HollowLabel+"=true", "--no-headers")
	if n := strings.Count(out, " Ready "); n != 50 {
		t.Fatalf("kubectl get nodes shows %d Ready hollow nodes; want 50:\n%s", n, out)
	}
	k.Must("", "create", "deployment", "big", "--image=busybox", "--replicas=100", "--", "sleep", "3600")
	start := time.Now()
	k.Must("", "rollout", "status", "deployment/big", "--timeout=60s")
	t.Logf("100 replicas available after %s", time.Since(start).Round(time.Millisecond))
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[0]))
	ctx := ctxTimeout(t, time.Minute)
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=big"})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]int{}
	for _, p := range pods.Items {
		nodes[p.Spec.NodeName]++
	}
	if len(nodes) < 25 {
		t.Errorf("100 pods landed on %d nodes; want them spread over most of the 50", len(nodes))
	}
	start = time.Now()
	k.Must("", "scale", "deployment/big", "--replicas=10")
	waitFor(t, 30*time.Second, "scale down to 10 pods", func() (bool, string) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=big"})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 10, fmt.Sprintf("%d pods", len(list.Items))
	})
	t.Logf("90 pods deleted gracefully after %s", time.Since(start).Round(time.Millisecond))

	if err := c.StopAgent(a); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartAgent(a); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesReady(ctx, a); err != nil {
		t.Fatal(err)
	}
}

// TestPodsReplacedAfterNodeDeath runs a Deployment over the nodes of two hollow agents and
// kills one agent: its nodes become Ready=Unknown through gossip, the pods on them are evicted
// once the default toleration (5 s here) has run out, and the Deployment is whole again on
// the other agent's nodes.
func TestPodsReplacedAfterNodeDeath(t *testing.T) {
	if _, err := os.Stat(apitest.KubectlPath); err != nil {
		t.Skipf("kubectl is not installed at %s", apitest.KubectlPath)
	}
	c := startCluster(t, 3, "--default-toleration-seconds=5")
	k := apitest.NewKubectl(t, c.Kubeconfig())
	doomed := startAgent(t, c, cluster.AgentConfig{Name: "doomed", Hollow: 3})
	spare := startAgent(t, c, cluster.AgentConfig{Name: "spare", Hollow: 3})
	onDoomed := map[string]bool{}
	for _, n := range doomed.Nodes {
		onDoomed[n] = true
	}
	k.Must("", "create", "deployment", "spread", "--image=busybox", "--replicas=6", "--", "sleep", "3600")
	k.Must("", "rollout", "status", "deployment/spread", "--timeout=60s")
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[0]))
	ctx := ctxTimeout(t, 3*time.Minute)
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
	if err != nil {
		t.Fatal(err)
	}
	var victims []string
	for _, p := range pods.Items {
		if onDoomed[p.Spec.NodeName] {
			victims = append(victims, p.Name)
		}
	}
	if len(victims) == 0 {
		t.Fatalf("no pod of 6 landed on the 3 nodes of agent %s; the test needs some", doomed.Name)
	}

	if err := c.KillAgent(doomed); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(t, 30*time.Second, "the dead agent's nodes Ready=Unknown", func() (bool, string) {
		for _, n := range doomed.Nodes {
			if s := nodeReadyStatus(ctx, cs, n); s != corev1.ConditionUnknown {
				return false, n + " is " + string(s)
			}
		}
		return true, ""
	})
	t.Logf("%d nodes Ready=Unknown %s after their agent was killed", len(doomed.Nodes), time.Since(killed).Round(time.Millisecond))

	waitFor(t, 2*time.Minute, "6 ready replicas on the surviving nodes, the dead nodes' pods evicted", func() (bool, string) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=spread"})
		if err != nil {
			return false, err.Error()
		}
		ready, evicted := 0, 0
		for _, p := range list.Items {
			switch {
			case p.DeletionTimestamp != nil:
				if slices.Contains(victims, p.Name) {
					evicted++
				}
			case onDoomed[p.Spec.NodeName]:
				return false, fmt.Sprintf("pod %s still on dead node %s", p.Name, p.Spec.NodeName)
			case podReady(&p):
				ready++
			}
		}
		return ready == 6 && evicted == len(victims), fmt.Sprintf("%d ready elsewhere, %d of %d evicted", ready, evicted, len(victims))
	})
	t.Logf("%d pods evicted and replaced on agent %s's nodes %s after the kill", len(victims), spare.Name, time.Since(killed).Round(time.Millisecond))
}

// podReady reports whether the pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
