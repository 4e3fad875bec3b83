// Package schedbench measures the scheduler of a running Capstan cluster through its API: it
// registers fake Nodes (Ready, with room for the pods; no agent runs them), creates pods through
// Deployments, and times from each pod's appearance on a watch to its binding on the same watch.
// `capstan bench scheduler` is its command line.
package schedbench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/raftstore/storebench"
)

// benchLabel marks the Nodes the benchmark registers, so that they can be removed.
const benchLabel = "capstan.io/bench"

// Config says what to measure.
type Config struct {
	// Master is the REST configuration of the master the benchmark talks to.
	Master *rest.Config
	// Namespace holds the Deployments; it is created, and must not exist before.
	Namespace string
	// Nodes is how many fake Nodes to register; Pods how many pods to create, through
	// Deployments of at most PodsPerDeployment replicas each.
	Nodes, Pods, PodsPerDeployment int
	// Timeout bounds the wait for every pod to be bound.
	Timeout time.Duration
	// Cleanup deletes the namespace and the Nodes afterwards.
	Cleanup bool
}

// DefaultConfig returns the workload: 1,000 nodes and 30,000 pods in 30 Deployments.
func DefaultConfig() Config {
	return Config{Namespace: "capstan-bench-scheduler", Nodes: 1000, Pods: 30000, PodsPerDeployment: 1000, Timeout: 10 * time.Minute, Cleanup: true}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Master == nil {
		errs = append(errs, errors.New("a master is required"))
	}
	if c.Nodes < 1 || c.Pods < 1 || c.PodsPerDeployment < 1 {
		errs = append(errs, fmt.Errorf("nodes %d, pods %d and pods per deployment %d must be positive", c.Nodes, c.Pods, c.PodsPerDeployment))
	}
	if c.Nodes > maxNodes {
		errs = append(errs, fmt.Errorf("nodes %d: at most %d (the /24 pod CIDRs of 100.64.0.0/10)", c.Nodes, maxNodes))
	}
	if c.Nodes > 0 && c.Pods > c.Nodes*podsPerNode {
		errs = append(errs, fmt.Errorf("%d pods do not fit on %d nodes of %d pods", c.Pods, c.Nodes, podsPerNode))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s must be positive", c.Timeout))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("a namespace is required"))
	}
	return errors.Join(errs...)
}

// podsPerNode is each fake Node's pod capacity, as the kubelet's default.
const podsPerNode = 110

// maxNodes is how many fake Nodes get a pod CIDR of their own (see registerNodes).
const maxNodes = 1 << 14

// Report is the benchmark's outcome.
type Report struct {
	Nodes int `json:"nodes"`
	Pods  int `json:"pods"`
	// Bound counts pods bound before the timeout.
	Bound int `json:"bound"`
	// PodsPerSecond is Bound divided by the time from the first pod's appearance to the last
	// binding.
	PodsPerSecond float64 `json:"podsPerSecond"`
	// P50, P99 and Max are create-to-bound latencies in milliseconds: from a pod's ADDED event
	// to the event that shows its node, on one watch.
	P50 float64 `json:"p50Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
	// Elapsed is the run's wall time, from the first Deployment's creation, in seconds.
	Elapsed float64 `json:"elapsedSeconds"`
}

// Run registers the Nodes, creates the Deployments and measures until every pod is bound or
// the timeout passes (the report then says how many were bound).
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	rc := rest.CopyConfig(cfg.Master)
	rc.QPS, rc.Burst = -1, 0 // the benchmark paces itself
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return Report{}, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.Namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return Report{}, fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	if cfg.Cleanup {
		defer cleanup(client, cfg.Namespace)
	}
	if err := registerNodes(ctx, client, cfg.Nodes); err != nil {
		return Report{}, err
	}
	w, err := client.CoreV1().Pods(cfg.Namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return Report{}, fmt.Errorf("watch pods: %w", err)
	}
	defer w.Stop()

	started := time.Now()
	created := make(chan error, 1)
	go func() { created <- createDeployments(ctx, client, cfg) }()
	rep, err := observe(ctx, w, cfg, created)
	rep.Elapsed = time.Since(started).Seconds()
	return rep, err
}

// observe follows the pod watch until cfg.Pods pods are bound.
func observe(ctx context.Context, w watch.Interface, cfg Config, created <-chan error) (Report, error) {
	rep := Report{Nodes: cfg.Nodes, Pods: cfg.Pods}
	seen := make(map[types.UID]time.Time, cfg.Pods)
	bound := make(map[types.UID]bool, cfg.Pods)
	latencies := make([]time.Duration, 0, cfg.Pods)
	var first, last time.Time
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	for len(bound) < cfg.Pods {
		select {
		case err := <-created:
			if err != nil {
				return rep, err
			}
		case <-deadline.C:
			return summarise(rep, latencies, first, last), fmt.Errorf("%d of %d pods bound within %s", len(bound), cfg.Pods, cfg.Timeout)
		case <-ctx.Done():
			return rep, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return summarise(rep, latencies, first, last), errors.New("the pod watch ended early")
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			now := time.Now()
			if _, ok := seen[pod.UID]; !ok {
				seen[pod.UID] = now
				if first.IsZero() {
					first = now
				}
			}
			if pod.Spec.NodeName != "" && !bound[pod.UID] {
				bound[pod.UID] = true
				latencies = append(latencies, now.Sub(seen[pod.UID]))
				last = now
			}
		}
	}
	return summarise(rep, latencies, first, last), nil
}

func summarise(rep Report, latencies []time.Duration, first, last time.Time) Report {
	rep.Bound = len(latencies)
	if rep.Bound == 0 {
		return rep
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		rep.PodsPerSecond = float64(rep.Bound) / span
	}
	r := storebench.Summarise("", 0, latencies, 0, time.Second)
	rep.P50, rep.P99, rep.Max = r.P50, r.P99, r.Max
	return rep
}

// registerNodes creates n Ready Nodes with room for podsPerNode small pods each. Each brings
// its own pod CIDR, the i-th /24 of 100.64.0.0/10 as hollow nodes do, so that the node IPAM
// controller, whose default 10.244.0.0/16 holds 256 blocks, leaves them alone instead of
// retrying (and recording CIDRNotAvailable for) every node past the 256th during the run.
func registerNodes(ctx context.Context, client kubernetes.Interface, n int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: *resource.NewQuantity(podsPerNode, resource.DecimalSI),
	}
	return parallel(ctx, n, 32, func(ctx context.Context, i int) error {
		now := metav1.Now()
		cidr := nodeCIDR(i).String()
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-node-%04d", i), Labels: map[string]string{benchLabel: "true", corev1.LabelHostname: fmt.Sprintf("bench-node-%04d", i)}},
			Spec:       corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity, Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now},
			}},
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("register node %s: %w", node.Name, err)
		}
		return nil
	})
}

// nodeCIDR returns fake node i's pod CIDR, the i-th /24 of 100.64.0.0/10, for i < maxNodes.
func nodeCIDR(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(64 + i>>8), byte(i), 0}), 24)
}

// createDeployments creates the Deployments that together ask for cfg.Pods pods.
func createDeployments(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	count := (cfg.Pods + cfg.PodsPerDeployment - 1) / cfg.PodsPerDeployment
	return parallel(ctx, count, 4, func(ctx context.Context, i int) error {
		replicas := int32(min(cfg.PodsPerDeployment, cfg.Pods-i*cfg.PodsPerDeployment))
		name := fmt.Sprintf("bench-%03d", i)
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.local/bench:1",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi"),
						}},
					}}},
				},
			},
		}
		if _, err := client.AppsV1().Deployments(cfg.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %s: %w", name, err)
		}
		return nil
	})
}

// parallel runs fn for 0..n-1 on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// cleanup deletes the benchmark's namespace (and so its Deployments and pods) and Nodes.
func cleanup(client kubernetes.Interface, namespace string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bg := metav1.DeletePropagationBackground
	if err := client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return
	}
	_ = client.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: benchLabel + "=true"})
}
