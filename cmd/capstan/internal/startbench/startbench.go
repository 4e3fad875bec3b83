// Package startbench measures pod startup latency on a running Capstan cluster with at least
// one real node agent: it creates pods at a fixed rate and times each from just before its
// create request to the watch event that shows every container running. `capstan bench
// startup` is its command line.
package startbench

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/raftstore/storebench"
)

// Config says what to measure.
type Config struct {
	// Master is the REST configuration of the master the benchmark talks to.
	Master *rest.Config
	// Namespace holds the pods; it is created, must not exist before, and is deleted after.
	Namespace string
	// Image is the pods' image; it must be present on the nodes (imported or pulled before).
	Image string
	// Pods is how many pods to create, Rate how many per second.
	Pods int
	Rate float64
	// Timeout bounds the whole run.
	Timeout time.Duration
}

// DefaultConfig returns the workload: 100 pods at 10 pods/s.
func DefaultConfig() Config {
	return Config{Namespace: "capstan-bench-startup", Pods: 100, Rate: 10, Timeout: 5 * time.Minute}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Master == nil {
		errs = append(errs, errors.New("a master is required"))
	}
	if c.Image == "" {
		errs = append(errs, errors.New("an image is required"))
	}
	if c.Pods < 1 {
		errs = append(errs, fmt.Errorf("pods %d must be positive", c.Pods))
	}
	if c.Rate <= 0 || c.Rate > 1000 {
		errs = append(errs, fmt.Errorf("rate %g must be above 0 and at most 1000 pods/s", c.Rate))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s must be positive", c.Timeout))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("a namespace is required"))
	}
	return errors.Join(errs...)
}

// Report is the benchmark's outcome.
type Report struct {
	Pods int     `json:"pods"`
	Rate float64 `json:"ratePerSecond"`
	// Started counts pods whose containers all ran before the timeout.
	Started int `json:"started"`
	// P50, P99 and Max are startup latencies in milliseconds.
	P50 float64 `json:"p50Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

// Run creates the pods at the configured rate and measures until every pod runs or the
// timeout passes; it deletes the namespace afterwards.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
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
	defer deleteNamespace(client, cfg.Namespace)
	w, err := client.CoreV1().Pods(cfg.Namespace).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return Report{}, fmt.Errorf("watch pods: %w", err)
	}
	defer w.Stop()

	created := make(chan createdPod, cfg.Pods)
	errc := make(chan error, 1)
	go func() { errc <- createPods(ctx, client, cfg, created) }()
	rep, err := observe(ctx, w, cfg, created, errc)
	cancel() // stops the creator if the observer gave up
	return rep, err
}

// createdPod is a pod and the time just before its create request.
type createdPod struct {
	name string
	at   time.Time
}

// createPods creates cfg.Pods pods, one every 1/Rate seconds.
func createPods(ctx context.Context, client kubernetes.Interface, cfg Config, created chan<- createdPod) error {
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	for i := range cfg.Pods {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("startup-%04d", i), Labels: map[string]string{"app": "startup-bench"}},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []corev1.Container{{
					Name: "app", Image: cfg.Image, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sh", "-c", `trap "exit 0" TERM; sleep 3600 & wait`},
				}},
			},
		}
		at := time.Now()
		if _, err := client.CoreV1().Pods(cfg.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		created <- createdPod{name: pod.Name, at: at}
	}
	return nil
}

// observe follows the pod watch until every created pod runs all its containers.
func observe(ctx context.Context, w watch.Interface, cfg Config, created <-chan createdPod, errc <-chan error) (Report, error) {
	rep := Report{Pods: cfg.Pods, Rate: cfg.Rate}
	start := map[string]time.Time{}
	running := map[string]time.Time{} // seen running before its creation was recorded
	var latencies []time.Duration
	record := func(name string) {
		if s, ok := start[name]; ok {
			if r, ok := running[name]; ok {
				latencies = append(latencies, r.Sub(s))
				delete(start, name)
			}
		}
	}
	for len(latencies) < cfg.Pods {
		select {
		case c := <-created:
			start[c.name] = c.at
			record(c.name)
		case err := <-errc:
			if err != nil {
				return summarise(rep, latencies), err
			}
		case <-ctx.Done():
			return summarise(rep, latencies), fmt.Errorf("%d of %d pods running: %w", len(latencies), cfg.Pods, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return summarise(rep, latencies), errors.New("the pod watch ended early")
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted || !allRunning(pod) {
				continue
			}
			if _, seen := running[pod.Name]; !seen {
				running[pod.Name] = time.Now()
				record(pod.Name)
			}
		}
	}
	return summarise(rep, latencies), nil
}

// allRunning reports whether every container of the pod runs.
func allRunning(pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
		return false
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.State.Running == nil {
			return false
		}
	}
	return true
}

func summarise(rep Report, latencies []time.Duration) Report {
	rep.Started = len(latencies)
	if rep.Started == 0 {
		return rep
	}
	r := storebench.Summarise("", 0, latencies, 0, time.Second)
	rep.P50, rep.P99, rep.Max = r.P50, r.P99, r.Max
	return rep
}

// deleteNamespace deletes the benchmark's namespace and waits up to a minute until it is gone,
// so that no container of the benchmark outlives it.
func deleteNamespace(client kubernetes.Interface, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return
	}
	_ = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}
