// Package hollowbench measures what hollow nodes cost: it starts one `capstan agent --hollow N`
// process against a running cluster and reports how long the N nodes take to register and
// become Ready, the agent's memory, and the writes the idle nodes make, counted from the store
// revision and from a watch of the hollow Nodes. `capstan bench hollow` is its command line.
package hollowbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/nodeagent/agent"
)

// Config says what to measure.
type Config struct {
	// Cluster is the running cluster the hollow agent joins.
	Cluster *cluster.Cluster
	// Nodes is how many hollow nodes the agent runs.
	Nodes int
	// Idle is how long the idle write rate is measured, once without the agent (the masters'
	// own writes) and once with every node Ready.
	Idle time.Duration
	// Timeout bounds the registration.
	Timeout time.Duration
}

// DefaultConfig returns the workload: 1,000 hollow nodes, idle for a minute.
func DefaultConfig() Config {
	return Config{Nodes: 1000, Idle: time.Minute, Timeout: 10 * time.Minute}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Nodes < 1 || c.Nodes > 10000 {
		errs = append(errs, fmt.Errorf("nodes %d must be between 1 and 10000", c.Nodes))
	}
	if c.Idle < time.Second {
		errs = append(errs, fmt.Errorf("idle window %s must be at least 1s", c.Idle))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s must be positive", c.Timeout))
	}
	return errors.Join(errs...)
}

// Report is the benchmark's outcome.
type Report struct {
	Nodes int `json:"nodes"`
	// RegisterSeconds is from the agent's start to every node Ready.
	RegisterSeconds float64 `json:"registerSeconds"`
	// RSSBytes is the agent's resident memory at the end of the idle window; PeakRSSBytes its
	// high-water mark over the whole run, registration included.
	RSSBytes     int64 `json:"rssBytes"`
	PeakRSSBytes int64 `json:"peakRssBytes"`
	// IdleSeconds is the length of each idle window.
	IdleSeconds float64 `json:"idleSeconds"`
	// BaselineWritesPerSecond is the cluster's write rate (store revisions per second) before
	// the agent started; IdleWritesPerSecond the same with every hollow node Ready and idle.
	BaselineWritesPerSecond float64 `json:"baselineWritesPerSecond"`
	IdleWritesPerSecond     float64 `json:"idleWritesPerSecond"`
	// NodeWritesPerSecond counts the changes of hollow Nodes in the idle window (watch events).
	NodeWritesPerSecond float64 `json:"nodeWritesPerSecond"`
}

// Run measures. The agent it starts is left running in the cluster.
func Run(ctx context.Context, cfg Config) (Report, error) {
	rep := Report{Nodes: cfg.Nodes, IdleSeconds: cfg.Idle.Seconds()}
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	if cfg.Cluster == nil {
		return rep, errors.New("a cluster is required")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Cluster.Kubeconfig())
	if err != nil {
		return rep, err
	}
	rc.QPS = -1
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return rep, err
	}

	if rep.BaselineWritesPerSecond, err = writeRate(ctx, client, cfg.Idle); err != nil {
		return rep, fmt.Errorf("baseline: %w", err)
	}

	start := time.Now()
	a, err := cfg.Cluster.StartAgent(ctx, cluster.AgentConfig{Name: "hollow", Hollow: cfg.Nodes})
	if err != nil {
		return rep, err
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	err = cfg.Cluster.WaitNodesReady(rctx, a)
	cancel()
	if err != nil {
		return rep, fmt.Errorf("registering %d hollow nodes: %w", cfg.Nodes, err)
	}
	rep.RegisterSeconds = time.Since(start).Seconds()

	hollow := metav1.ListOptions{LabelSelector: agent.HollowLabel + "=true"}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: hollow.LabelSelector, Limit: 1})
	if err != nil {
		return rep, fmt.Errorf("listing the hollow nodes: %w", err)
	}
	hollow.ResourceVersion = list.ResourceVersion // changes from now on, no initial state
	nodes, err := client.CoreV1().Nodes().Watch(ctx, hollow)
	if err != nil {
		return rep, fmt.Errorf("watching the hollow nodes: %w", err)
	}
	defer nodes.Stop()
	changes := make(chan int, 1)
	go func() { changes <- countEvents(nodes) }() // ends when the watch is stopped
	if rep.IdleWritesPerSecond, err = writeRate(ctx, client, cfg.Idle); err != nil {
		return rep, fmt.Errorf("idle: %w", err)
	}
	nodes.Stop()
	rep.NodeWritesPerSecond = float64(<-changes) / cfg.Idle.Seconds()

	if rep.RSSBytes, rep.PeakRSSBytes, err = memory(a.PID()); err != nil {
		return rep, err
	}
	return rep, nil
}

// countEvents counts the events of w until it ends.
func countEvents(w watch.Interface) int {
	n := 0
	for range w.ResultChan() {
		n++
	}
	return n
}

// writeRate returns the store revisions per second over window d.
func writeRate(ctx context.Context, client kubernetes.Interface, d time.Duration) (float64, error) {
	first, err := revision(ctx, client)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d): // the measurement window
	}
	last, err := revision(ctx, client)
	if err != nil {
		return 0, err
	}
	return float64(last-first) / time.Since(start).Seconds(), nil
}

// revision returns the store's current revision: the resourceVersion of a linearizable list.
func revision(ctx context.Context, client kubernetes.Interface) (uint64, error) {
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("reading the store revision: %w", err)
	}
	rv, err := strconv.ParseUint(list.ResourceVersion, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("list resourceVersion %q is not a revision: %w", list.ResourceVersion, err)
	}
	return rv, nil
}

// memory returns the resident and peak resident memory of process pid.
func memory(pid int) (rss, peak int64, err error) {
	if pid == 0 {
		return 0, 0, errors.New("the hollow agent is not running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the hollow agent's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s %q: %w", pid, name, value, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}
