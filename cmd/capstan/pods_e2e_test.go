package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/chaos/cluster"
)

// httpdDeployment serves a page naming the pod with busybox httpd. %s is the image.
const httpdDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: 3
  selector:
    matchLabels: {app: httpd}
  template:
    metadata:
      labels: {app: httpd}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: %s
        command: ["sh", "-c", "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports: [{containerPort: 80}]
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {cpu: 200m, memory: 64Mi}
`

// podManifest is a bare pod of the test image; %s are the name, restart policy, image, the
// container's command script and extra container fields (indented by 4).
const podManifest = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", %q]
%s`

// TestPodWorkloads drives the workflow a user tries first on a real node through the real
// kubectl: a Deployment of busybox httpd, port-forward, exec with stdin, logs -f, restart
// back-off, a liveness probe, the memory limit, rollout undo, and an agent restart that leaves
// the containers running.
func TestPodWorkloads(t *testing.T) {
	skipWithoutContainers(t)
	c := startCluster(t, 3)
	k := apitest.NewKubectl(t, c.Kubeconfig())
	a := startAgent(t, c, cluster.AgentConfig{Name: "w1", ImportTestImage: true})
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[1]))
	ctx := ctxTimeout(t, 5*time.Minute)
	deletePodsAtCleanup(t, k, cs)

	k.Must(fmt.Sprintf(httpdDeployment, testImageName), "apply", "-f", "-")
	k.Must("", "rollout", "status", "deployment/httpd", "--timeout=90s")
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=httpd"})
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || ips[p.Status.PodIP] {
			t.Fatalf("pod %s: phase %s, IP %q; want Running with its own IP", p.Name, p.Status.Phase, p.Status.PodIP)
		}
		ips[p.Status.PodIP] = true
	}
	pod := pods.Items[0].Name

	t.Run("port-forward", func(t *testing.T) {
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := k.Cmd(fctx, "", "port-forward", "pod/"+pod, ":80")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		// "Forwarding from 127.0.0.1:41234 -> 80"
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("port-forward printed %q: %v", line, err)
		}
		m := regexp.MustCompile(`127\.0\.0\.1:(\d+) -> 80`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("port-forward printed %q; want the local port", line)
		}
		resp, err := http.Get("http://127.0.0.1:" + m[1] + "/index.html")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "hello-from-" + pod; strings.TrimSpace(string(body)) != want {
			t.Errorf("GET through port-forward = %q; want %q", body, want)
		}
	})

	t.Run("exec with stdin", func(t *testing.T) {
		if out := k.Must("ping from stdin\n", "exec", "-i", pod, "--", "cat"); out != "ping from stdin\n" {
			t.Errorf("kubectl exec -i cat echoed %q", out)
		}
	})

	t.Run("logs -f follows", func(t *testing.T) {
		k.Must(fmt.Sprintf(podManifest, "ticker", "Always", testImageName, `trap "exit 0" TERM; i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done`, ""), "apply", "-f", "-")
		k.Must("", "wait", "--for=condition=Ready", "pod/ticker", "--timeout=60s")
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := k.Cmd(fctx, "", "logs", "-f", "ticker")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		// Following means lines keep arriving after those already written: wait for a
		// line numbered higher than any the container could have written before we started.
		r := bufio.NewReader(out)
		seen := 0
		for seen < 20 {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("logs -f ended after %d lines: %v", seen, err)
			}
			if strings.HasPrefix(line, "tick-") {
				seen++
			}
		}
	})

	t.Run("restart back-off", func(t *testing.T) {
		k.Must(fmt.Sprintf(podManifest, "crasher", "Always", testImageName, "echo crashing; exit 3", ""), "apply", "-f", "-")
		sawBackOff := false
		waitFor(t, 90*time.Second, "crasher restarted twice with CrashLoopBackOff", func() (bool, string) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "crasher", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err)
			}
			st := p.Status.ContainerStatuses[0]
			if st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff" {
				sawBackOff = true
			}
			last := st.LastTerminationState.Terminated
			return sawBackOff && st.RestartCount >= 2 && last != nil && last.ExitCode == 3, fmt.Sprintf("%+v", st)
		})
		if out := k.Must("", "get", "pod", "crasher"); !regexp.MustCompile(`crasher\s+[01]/1\s+\S+\s+([2-9]|[1-9][0-9]+)\b`).MatchString(out) {
			t.Errorf("kubectl get pod crasher shows no RESTARTS count of 2 or more:\n%s", out)
		}
	})

	t.Run("liveness probe restarts", func(t *testing.T) {
		probe := "    livenessProbe:\n      exec: {command: [\"false\"]}\n      periodSeconds: 1\n      failureThreshold: 2\n"
		k.Must(fmt.Sprintf(podManifest, "unhealthy", "Always", testImageName, `trap "exit 0" TERM; sleep 3600 & wait`, probe), "apply", "-f", "-")
		waitFor(t, 90*time.Second, "unhealthy restarted by its liveness probe", func() (bool, string) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "unhealthy", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err)
			}
			return p.Status.ContainerStatuses[0].RestartCount >= 1, fmt.Sprintf("%+v", p.Status.ContainerStatuses[0])
		})
		if out := k.Must("", "describe", "pod", "unhealthy"); !strings.Contains(out, "Unhealthy") || !strings.Contains(out, "Liveness probe failed") {
			t.Errorf("kubectl describe pod unhealthy tells nothing of the probe:\n%s", out)
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		limits := "    resources:\n      limits: {memory: 16Mi}\n"
		k.Must(fmt.Sprintf(podManifest, "hog", "Never", testImageName, "x=0123456789; while true; do x=$x$x; done", limits), "apply", "-f", "-")
		waitFor(t, 90*time.Second, "hog OOMKilled", func() (bool, string) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "hog", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err)
			}
			term := p.Status.ContainerStatuses[0].State.Terminated
			return term != nil && term.Reason == "OOMKilled" && p.Status.Phase == corev1.PodFailed, fmt.Sprintf("%s %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
		})
	})

	t.Run("rollout undo", func(t *testing.T) {
		k.Must("", "set", "image", "deployment/httpd", "web=capstan.local/missing:1")
		waitFor(t, 60*time.Second, "the broken rollout to reach its new pod", func() (bool, string) {
			out, _ := k.Run("", "get", "pods", "-l", "app=httpd", "-o", "jsonpath={.items[*].status.containerStatuses[0].state.waiting.reason}")
			return strings.Contains(out, "ErrImagePull") || strings.Contains(out, "ImagePullBackOff") || strings.Contains(out, "ErrImageNeverPull"), out
		})
		if out := k.Must("", "rollout", "undo", "deployment/httpd"); !strings.Contains(out, "rolled back") {
			t.Errorf("rollout undo: %s", out)
		}
		k.Must("", "rollout", "status", "deployment/httpd", "--timeout=90s")
		if img := k.Must("", "get", "deployment/httpd", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != testImageName {
			t.Errorf("image after undo = %q; want %q", img, testImageName)
		}
	})

	t.Run("agent restart keeps containers", func(t *testing.T) {
		before := containerIDs(t, ctx, cs, "app=httpd")
		// A file in each container's writable layer: a restarted container would lose it.
		names := strings.Fields(k.Must("", "get", "pods", "-l", "app=httpd", "-o", "jsonpath={.items[*].metadata.name}"))
		for _, p := range names {
			k.Must("", "exec", p, "--", "touch", "/tmp/alive")
		}
		if err := c.StopAgent(a); err != nil {
			t.Fatal(err)
		}
		if err := c.RestartAgent(a); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitNodesReady(ctx, a); err != nil {
			t.Fatal(err)
		}
		// The restarted agent serves exec for the containers it adopted, which still hold
		// the file; the API shows the same containers and restart counts.
		for _, p := range names {
			waitFor(t, 60*time.Second, "the container of "+p+" adopted with its file", func() (bool, string) {
				out, err := k.Run("", "exec", p, "--", "cat", "/tmp/alive")
				return err == nil, out
			})
		}
		if after := containerIDs(t, ctx, cs, "app=httpd"); after != before {
			t.Errorf("containers before the agent restart: %s; after: %s", before, after)
		}
	})
}

// containerIDs lists "pod=containerID/restarts" of the running pods with the label selector.
func containerIDs(t *testing.T, ctx context.Context, cs kubernetes.Interface, selector string) string {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range pods.Items {
		for _, st := range p.Status.ContainerStatuses {
			if st.State.Running != nil && p.DeletionTimestamp == nil {
				parts = append(parts, fmt.Sprintf("%s=%s/%d", p.Name, st.ContainerID, st.RestartCount))
			}
		}
	}
	return strings.Join(parts, ",")
}
