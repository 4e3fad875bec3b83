package manager_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/controllers/manager"
)

// runControllers makes every member run the controllers whenever it leads, as masters do.
func runControllers(t *testing.T, c *apitest.Cluster) {
	// Not t.Output(): the controllers' event recorder may still log after the test ends.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, m := range c.Members() {
		m.Store.WhileLeader(func(ctx context.Context) {
			cfg := manager.DefaultConfig()
			cfg.API, cfg.Fence, cfg.Logger = m.API, m.Store.LeaderFence, log
			if err := manager.Run(ctx, cfg); err != nil {
				t.Errorf("manager on %s: %v", m.ID, err)
			}
		})
	}
}

// fakeKubelets stands in for the node agents: it marks every bound pod Running and Ready and
// finishes the graceful deletion of pods being deleted.
type fakeKubelets struct {
	client kubernetes.Interface
	pods   cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[string]
}

func startFakeKubelets(t *testing.T, client kubernetes.Interface) {
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Pods().Informer()
	k := &fakeKubelets{client: client, pods: inf.GetIndexer(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }})
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			key, quit := k.queue.Get()
			if quit {
				return
			}
			if err := k.sync(ctx, key); err != nil && ctx.Err() == nil {
				k.queue.AddRateLimited(key)
			} else {
				k.queue.Forget(key)
			}
			k.queue.Done(key)
		}
	}()
	t.Cleanup(func() {
		cancel()
		k.queue.ShutDown()
		wg.Wait()
		factory.Shutdown()
	})
}

func (k *fakeKubelets) sync(ctx context.Context, key string) error {
	obj, ok, err := k.pods.GetByKey(key)
	if err != nil || !ok {
		return err
	}
	pod := obj.(*corev1.Pod)
	switch {
	case pod.DeletionTimestamp != nil:
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Spec.NodeName != "" && pod.Status.Phase == corev1.PodPending:
		p := pod.DeepCopy()
		now := metav1.Now()
		p.Status.Phase, p.Status.StartTime, p.Status.HostIP = corev1.PodRunning, &now, "192.0.2.1"
		p.Status.PodIP = fmt.Sprintf("10.244.%d.%d", len(p.UID)%200, (int(p.UID[0])+int(p.UID[1]))%250+1)
		for _, typ := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now})
		}
		for _, c := range p.Spec.Containers {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
		}
		_, err := k.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // a newer version is queued, or the pod is gone
		}
		return err
	}
	return nil
}

// podHistory records every pod event from one revision on, across watch restarts.
type podHistory struct {
	mu       sync.Mutex
	nodeOf   map[types.UID]string // the node each pod was first bound to
	rebinds  []string
	active   map[types.UID]bool // pods that exist and are not being deleted
	maxAlive int
}

func recordPods(t *testing.T, client kubernetes.Interface, fromRV string) *podHistory {
	h := &podHistory{nodeOf: map[types.UID]string{}, active: map[types.UID]bool{}}
	lw := &cache.ListWatch{WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
		return client.CoreV1().Pods(metav1.NamespaceDefault).Watch(context.Background(), o)
	}}
	w, err := watchtools.NewRetryWatcher(fromRV, lw)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				h.observe(ev.Type, pod)
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		<-done
	})
	return h
}

func (h *podHistory) observe(typ watch.EventType, pod *corev1.Pod) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pod.Spec.NodeName != "" {
		if first, ok := h.nodeOf[pod.UID]; !ok {
			h.nodeOf[pod.UID] = pod.Spec.NodeName
		} else if first != pod.Spec.NodeName {
			h.rebinds = append(h.rebinds, fmt.Sprintf("%s bound to %s, then %s", pod.Name, first, pod.Spec.NodeName))
		}
	}
	if typ == watch.Deleted || pod.DeletionTimestamp != nil {
		delete(h.active, pod.UID)
	} else {
		h.active[pod.UID] = true
	}
	h.maxAlive = max(h.maxAlive, len(h.active))
}

// resetMax starts a new window for the most pods alive at once.
func (h *podHistory) resetMax() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.maxAlive = len(h.active)
}

func (h *podHistory) max() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxAlive
}

func (h *podHistory) check(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rebinds {
		t.Errorf("a pod was bound twice: %s", r)
	}
	if len(h.nodeOf) == 0 {
		t.Error("the watch saw no pod being bound")
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
}

func createNodes(t *testing.T, client kubernetes.Interface, n int) {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
		// The node IPAM controller may assign the node's pod CIDR meanwhile.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			node, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node.Status = corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
			_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 10
  minReadySeconds: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
        resources:
          requests: {cpu: 10m, memory: 16Mi}
`

// rolledOut reports whether the deployment's latest generation is fully rolled out.
func rolledOut(client kubernetes.Interface, replicas int32) func() (bool, error) {
	return func() (bool, error) {
		d, err := client.AppsV1().Deployments(metav1.NamespaceDefault).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		ok := s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == replicas && s.Replicas == replicas && s.AvailableReplicas == replicas
		return ok, fmt.Errorf("status %+v", s)
	}
}

// TestDeploymentsOnTheLeader runs the controllers on a 3-master cluster with simulated nodes and
// drives a Deployment with the real kubectl: it becomes Available, rolls out across a leader
// kill without exceeding replicas+maxSurge pods, rolls back, scales 10 → 100 → 0, and no pod is
// ever bound twice.
func TestDeploymentsOnTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master cluster")
	}
	c := apitest.NewCluster(t, 3)
	runControllers(t, c)
	follower := c.Follower()
	client := c.Client(follower)
	k := apitest.NewKubectl(t, c.Kubeconfig(follower))
	ctx := context.Background()

	createNodes(t, client, 3)
	waitFor(t, 30*time.Second, "every node to get its own pod CIDR", func() (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, n := range nodes.Items {
			if n.Spec.PodCIDR == "" || seen[n.Spec.PodCIDR] {
				return false, fmt.Errorf("node %s has pod CIDR %q; seen %v", n.Name, n.Spec.PodCIDR, seen)
			}
			seen[n.Spec.PodCIDR] = true
		}
		return len(seen) == 3, nil
	})
	startFakeKubelets(t, client)
	start, err := client.CoreV1().Pods(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	history := recordPods(t, client, start.ResourceVersion)

	k.Must(fmt.Sprintf(webDeployment, "busybox:1.36"), "apply", "-f", "-")
	waitFor(t, 60*time.Second, "10 available replicas", rolledOut(client, 10))
	if out := k.Must("", "rollout", "status", "deployment/web", "--timeout=30s"); !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Errorf("rollout status:\n%s", out)
	}
	d, err := client.AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasCondition(d, appsv1.DeploymentAvailable) {
		t.Errorf("deployment has no Available=True condition: %+v", d.Status.Conditions)
	}

	// Roll out a new template and kill the leader in the middle of it.
	history.resetMax()
	k.Must(fmt.Sprintf(webDeployment, "busybox:1.37"), "apply", "-f", "-")
	waitFor(t, 30*time.Second, "the rollout to be under way", func() (bool, error) {
		d, err := client.AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas > 0 && d.Status.UpdatedReplicas < 10, fmt.Errorf("status %+v", d.Status)
	})
	leader := c.Leader()
	if leader == follower { // an election under load moved leadership to the member the clients use
		for _, m := range c.Members() {
			if m != follower {
				if err := follower.Store.TransferLeadership(ctx, m.Store.NodeID()); err != nil {
					t.Fatalf("moving leadership off the watched member: %v", err)
				}
				break
			}
		}
		if leader = c.Leader(); leader == follower {
			t.Fatal("the watched member is still the leader")
		}
	}
	c.Kill(leader)
	waitFor(t, 90*time.Second, "the rollout to complete under the new leader", rolledOut(client, 10))
	if got, limit := history.max(), 10+3; got > limit {
		t.Errorf("%d pods were alive at once during the rollout; maxSurge allows %d", got, limit)
	}

	out := k.Must("", "rollout", "history", "deployment/web")
	for _, want := range []string{"REVISION", "1 ", "2 "} {
		if !strings.Contains(out, want) {
			t.Errorf("rollout history lacks %q:\n%s", want, out)
		}
	}
	if out := k.Must("", "rollout", "undo", "deployment/web"); !strings.Contains(out, "rolled back") {
		t.Errorf("rollout undo:\n%s", out)
	}
	waitFor(t, 60*time.Second, "the rollback to complete", func() (bool, error) {
		ok, err := rolledOut(client, 10)()
		if !ok {
			return false, err
		}
		d, err := client.AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Spec.Template.Spec.Containers[0].Image == "busybox:1.36" && d.Annotations["deployment.kubernetes.io/revision"] == "3", fmt.Errorf("image %s, revision %s", d.Spec.Template.Spec.Containers[0].Image, d.Annotations["deployment.kubernetes.io/revision"])
	})
	if out := k.Must("", "describe", "deployment", "web"); !strings.Contains(out, "ScalingReplicaSet") {
		t.Errorf("describe shows no ScalingReplicaSet events:\n%s", out)
	}

	k.Must("", "scale", "deployment/web", "--replicas=100")
	waitFor(t, 120*time.Second, "100 available replicas", rolledOut(client, 100))
	k.Must("", "scale", "deployment/web", "--replicas=0")
	waitFor(t, 60*time.Second, "every pod to be gone", func() (bool, error) {
		pods, err := client.CoreV1().Pods(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String()})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 0, fmt.Errorf("%d pods left", len(pods.Items))
	})
	history.check(t)
}

func hasCondition(d *appsv1.Deployment, typ appsv1.DeploymentConditionType) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
