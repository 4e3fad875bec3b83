// Package apibench drives the Kubernetes API of a Capstan cluster over HTTPS and measures it:
// pod creates, updates, gets and lists at a given concurrency, and the latency from a write's
// acknowledgement to its event on watchers spread over the masters. `capstan bench api` is its
// command line.
package apibench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/raftstore/storebench"
)

// Config says what to measure.
type Config struct {
	// Masters are the REST configurations of the masters; watchers are spread over them and
	// requests go to the first.
	Masters []*rest.Config
	// Namespace holds the benchmark's pods; it is created if missing and emptied first.
	Namespace string
	// Clients is the number of concurrent clients of the request runs.
	Clients int
	// Duration is the length of each request run.
	Duration time.Duration
	// Watchers is the number of watches opened for the delivery run (0 skips it).
	Watchers int
	// WatchEvents is how many writes the delivery run measures.
	WatchEvents int
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if len(c.Masters) == 0 {
		errs = append(errs, errors.New("at least one master is required"))
	}
	if c.Clients < 1 {
		errs = append(errs, fmt.Errorf("clients %d must be positive", c.Clients))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s must be positive", c.Duration))
	}
	if c.Watchers < 0 || c.WatchEvents < 1 {
		errs = append(errs, fmt.Errorf("watchers %d must not be negative and watch events %d positive", c.Watchers, c.WatchEvents))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("a namespace is required"))
	}
	return errors.Join(errs...)
}

// Result is one measured run.
type Result = storebench.Result

// Report is the benchmark's outcome.
type Report struct {
	Masters  int      `json:"masters"`
	Duration string   `json:"duration"`
	Results  []Result `json:"results"`
}

func podSpec(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench", "tier": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.local/bench:1",
			Resources: corev1.ResourceRequirements{},
		}}},
	}
}

// Run measures the cluster.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	clients := make([]*kubernetes.Clientset, len(cfg.Masters))
	for i, rc := range cfg.Masters {
		rc = rest.CopyConfig(rc)
		rc.QPS, rc.Burst = -1, 0
		rc.ContentType = "application/vnd.kubernetes.protobuf"
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return Report{}, err
		}
		clients[i] = cs
	}
	cs := clients[0]
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Report{}, fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	if err := cs.CoreV1().Pods(cfg.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}); err != nil {
		return Report{}, fmt.Errorf("empty namespace %s: %w", cfg.Namespace, err)
	}
	rep := Report{Masters: len(cfg.Masters), Duration: cfg.Duration.String()}
	pods := cs.CoreV1().Pods(cfg.Namespace)

	// Each client works on its own pods, so updates never conflict with each other.
	owned := make([][]*corev1.Pod, cfg.Clients)
	var seq atomic.Int64
	rep.Results = append(rep.Results, storebench.Measure(ctx, "create", cfg.Clients, cfg.Duration, func(ctx context.Context, client int) error {
		p, err := pods.Create(ctx, podSpec("bench-"+strconv.FormatInt(seq.Add(1), 10)), metav1.CreateOptions{})
		if err == nil {
			owned[client] = append(owned[client], p)
		}
		return err
	}))
	next := make([]int, cfg.Clients)
	rep.Results = append(rep.Results, storebench.Measure(ctx, "update", cfg.Clients, cfg.Duration, func(ctx context.Context, client int) error {
		mine := owned[client]
		if len(mine) == 0 {
			return errors.New("no pod to update")
		}
		i := next[client] % len(mine)
		next[client]++
		p := mine[i].DeepCopy()
		p.Labels["rev"] = strconv.Itoa(next[client])
		out, err := pods.Update(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			mine[i] = out
		}
		return err
	}))
	rep.Results = append(rep.Results, storebench.Measure(ctx, "get", cfg.Clients, cfg.Duration, func(ctx context.Context, client int) error {
		mine := owned[client]
		if len(mine) == 0 {
			return errors.New("no pod to get")
		}
		next[client]++
		_, err := pods.Get(ctx, mine[next[client]%len(mine)].Name, metav1.GetOptions{})
		return err
	}))
	rep.Results = append(rep.Results, storebench.Measure(ctx, "list-100", cfg.Clients, cfg.Duration, func(ctx context.Context, client int) error {
		_, err := pods.List(ctx, metav1.ListOptions{Limit: 100})
		return err
	}))
	if cfg.Watchers > 0 {
		r, err := measureWatch(ctx, cfg, clients)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

// measureWatch opens cfg.Watchers watches spread over the masters, then writes cfg.WatchEvents
// configmaps one at a time and measures, for every watcher, the time from each write's
// acknowledgement to its event.
func measureWatch(ctx context.Context, cfg Config, clients []*kubernetes.Clientset) (Result, error) {
	cms := clients[0].CoreV1().ConfigMaps(cfg.Namespace)
	start, err := cms.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return Result{}, err
	}
	type arrival struct {
		name string
		at   time.Time
	}
	arrivals := make(chan arrival, 4096)
	var opened sync.WaitGroup
	watches := make([]watch.Interface, cfg.Watchers)
	for i := range watches {
		w, err := clients[i%len(clients)].CoreV1().ConfigMaps(cfg.Namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: start.ResourceVersion})
		if err != nil {
			for _, o := range watches[:i] {
				o.Stop()
			}
			return Result{}, fmt.Errorf("open watch %d: %w", i, err)
		}
		watches[i] = w
		opened.Add(1)
		go func() {
			defer opened.Done()
			for ev := range w.ResultChan() {
				if cm, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Added {
					arrivals <- arrival{name: cm.Name, at: time.Now()}
				}
			}
		}()
	}
	acks := map[string]time.Time{}
	var lat []time.Duration
	want := cfg.WatchEvents * cfg.Watchers
	got := 0
	var errs int64
	startRun := time.Now()
	deadline := time.After(time.Duration(cfg.WatchEvents)*time.Second + time.Minute)
	pending := []arrival{}
	for i := 0; i < cfg.WatchEvents; i++ {
		name := "watch-" + strconv.Itoa(i)
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			errs++
			continue
		}
		acks[name] = time.Now()
		// Drain what has arrived so far, keeping early arrivals (before the ack was recorded).
	drain:
		for {
			select {
			case a := <-arrivals:
				pending = append(pending, a)
			default:
				break drain
			}
		}
	}
	want = (cfg.WatchEvents - int(errs)) * cfg.Watchers
	collect := func(a arrival) {
		if ack, ok := acks[a.name]; ok {
			d := a.at.Sub(ack)
			if d < 0 {
				d = 0 // the event beat the client's own acknowledgement
			}
			lat = append(lat, d)
			got++
		}
	}
	for _, a := range pending {
		collect(a)
	}
	for got < want {
		select {
		case a := <-arrivals:
			collect(a)
		case <-deadline:
			for _, w := range watches {
				w.Stop()
			}
			return storebench.Summarise(fmt.Sprintf("watch-delivery (%d watchers)", cfg.Watchers), cfg.Watchers, lat, int64(want-got)+errs, time.Since(startRun)), nil
		}
	}
	for _, w := range watches {
		w.Stop()
	}
	go func() { opened.Wait(); close(arrivals) }()
	for range arrivals {
	}
	r := storebench.Summarise(fmt.Sprintf("watch-delivery (%d watchers)", cfg.Watchers), cfg.Watchers, lat, errs, time.Since(startRun))
	return r, nil
}
