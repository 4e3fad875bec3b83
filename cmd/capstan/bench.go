package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/cmd/capstan/internal/apibench"
	"github.com/capstan-io/capstan/cmd/capstan/internal/hollowbench"
	"github.com/capstan-io/capstan/cmd/capstan/internal/schedbench"
	"github.com/capstan-io/capstan/cmd/capstan/internal/startbench"
	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/raftstore"
	"github.com/capstan-io/capstan/raftstore/storebench"
)

func benchCommand() *command {
	return &command{name: "bench", summary: "measure Capstan's performance", subs: []*command{benchStoreCommand(), benchAPICommand(), benchSchedulerCommand(), benchStartupCommand(), benchHollowCommand()}}
}

// outputOptions selects human or JSON output.
type outputOptions struct {
	Output string
}

func (o *outputOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", o.Output, `Output format: "table" or "json".`)
}

func (o *outputOptions) Validate() error {
	if o.Output != "table" && o.Output != "json" {
		return fmt.Errorf("--output %q must be table or json", o.Output)
	}
	return nil
}

// benchStoreOptions are the flags of `capstan bench store`.
type benchStoreOptions struct {
	outputOptions
	cfg      storebench.Config
	baseline bool
}

func (o *benchStoreOptions) AddFlags(fs *pflag.FlagSet) {
	o.outputOptions.AddFlags(fs)
	fs.IntVar(&o.cfg.Members, "members", o.cfg.Members, "Members in the cluster.")
	fs.StringVar(&o.cfg.DataDir, "data-dir", o.cfg.DataDir, "Where the members keep their data (default: a temporary directory, removed afterwards).")
	fs.StringVar(&o.cfg.LogStore, "raft-log-store", o.cfg.LogStore, `Raft log store: "wal" or "boltdb".`)
	fs.IntVar(&o.cfg.ValueSize, "value-size", o.cfg.ValueSize, "Bytes per written value.")
	fs.IntSliceVar(&o.cfg.Concurrency, "writers", o.cfg.Concurrency, "Concurrent writers, one run per value.")
	fs.IntVar(&o.cfg.Readers, "readers", o.cfg.Readers, "Concurrent linearizable readers on a follower (0 skips the read run).")
	fs.DurationVar(&o.cfg.Duration, "duration", o.cfg.Duration, "Length of each run.")
	fs.BoolVar(&o.cfg.ViaFollower, "via-follower", o.cfg.ViaFollower, "Send writes to a follower, which forwards them to the leader.")
	fs.BoolVar(&o.baseline, "baseline", o.baseline, "Also measure bare hashicorp/raft with a trivial state machine on the same log store, for comparison.")
}

func (o *benchStoreOptions) Validate() error {
	errs := []error{o.outputOptions.Validate()}
	if o.cfg.LogStore != raftstore.LogStoreWAL && o.cfg.LogStore != raftstore.LogStoreBolt {
		errs = append(errs, fmt.Errorf("--raft-log-store %q must be wal or boltdb", o.cfg.LogStore))
	}
	if err := o.cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func benchStoreCommand() *command {
	o := &benchStoreOptions{outputOptions: outputOptions{Output: "table"}, cfg: storebench.DefaultConfig()}
	return &command{
		name:     "store",
		summary:  "start a raftstore cluster on loopback (fsync on) and measure writes/s and linearizable reads/s",
		flags:    o.AddFlags,
		noArgs:   true,
		validate: o.Validate,
		run: func(ctx context.Context, _ []string, out io.Writer) error {
			reports := []storebench.Report{}
			rep, err := storebench.Run(ctx, o.cfg)
			if err != nil {
				return err
			}
			reports = append(reports, rep)
			if o.baseline {
				base, err := storebench.RunBaseline(ctx, o.cfg)
				if err != nil {
					return fmt.Errorf("baseline: %w", err)
				}
				reports = append(reports, base)
			}
			if o.Output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if len(reports) == 1 {
					return enc.Encode(reports[0])
				}
				return enc.Encode(reports)
			}
			for _, rep := range reports {
				fmt.Fprintf(out, "%d members, log store %s, %d-byte values, %s per run, writes via %s\n",
					rep.Members, rep.LogStore, rep.ValueSize, o.cfg.Duration.Round(time.Millisecond), map[bool]string{true: "a follower", false: "the leader"}[rep.ViaFollower])
				if err := printResults(out, rep.Results); err != nil {
					return err
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
}

// clusterBenchOptions are the flags of the benchmarks that measure a cluster.
type clusterBenchOptions struct {
	outputOptions
	target benchTarget
}

func (o *clusterBenchOptions) AddFlags(fs *pflag.FlagSet) {
	o.outputOptions.AddFlags(fs)
	o.target.AddFlags(fs)
}

func (o *clusterBenchOptions) errors() []error {
	return []error{o.outputOptions.Validate(), o.target.Validate()}
}

// benchAPIOptions are the flags of `capstan bench api`.
type benchAPIOptions struct {
	clusterBenchOptions
	cfg apibench.Config
}

func (o *benchAPIOptions) AddFlags(fs *pflag.FlagSet) {
	o.clusterBenchOptions.AddFlags(fs)
	fs.StringVar(&o.cfg.Namespace, "namespace", o.cfg.Namespace, "Namespace of the benchmark's objects (created, and emptied first).")
	fs.IntVar(&o.cfg.Clients, "clients", o.cfg.Clients, "Concurrent clients of the request runs.")
	fs.DurationVar(&o.cfg.Duration, "duration", o.cfg.Duration, "Length of each request run.")
	fs.IntVar(&o.cfg.Watchers, "watchers", o.cfg.Watchers, "Watches spread over the masters for the delivery run (0 skips it).")
	fs.IntVar(&o.cfg.WatchEvents, "watch-events", o.cfg.WatchEvents, "Writes the delivery run measures.")
}

func (o *benchAPIOptions) Validate() error {
	errs := o.errors()
	o.cfg.Masters = []*rest.Config{{}} // placeholder for validation; the real ones come later
	errs = append(errs, o.cfg.Validate())
	o.cfg.Masters = nil
	return errors.Join(errs...)
}

func benchAPICommand() *command {
	o := &benchAPIOptions{clusterBenchOptions: clusterBenchOptions{outputOptions{Output: "table"}, benchTarget{masters: 3}},
		cfg: apibench.Config{Namespace: "capstan-bench", Clients: 64, Duration: 5 * time.Second, Watchers: 1000, WatchEvents: 100}}
	return &command{
		name:     "api",
		summary:  "measure pod creates, updates, gets, lists and watch delivery over HTTPS (a local 3-master cluster, or --kubeconfig)",
		flags:    o.AddFlags,
		noArgs:   true,
		validate: o.Validate,
		run: func(ctx context.Context, _ []string, out io.Writer) error {
			masters, cleanup, err := o.target.configs(ctx)
			if err != nil {
				return err
			}
			defer cleanup()
			o.cfg.Masters = masters
			rep, err := apibench.Run(ctx, o.cfg)
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return printJSON(out, rep)
			}
			fmt.Fprintf(out, "%d masters, %d clients, %s per run, pods in namespace %s\n", rep.Masters, o.cfg.Clients, rep.Duration, o.cfg.Namespace)
			return printResults(out, rep.Results)
		},
	}
}

// benchSchedulerOptions are the flags of `capstan bench scheduler`.
type benchSchedulerOptions struct {
	clusterBenchOptions
	cfg schedbench.Config
}

func (o *benchSchedulerOptions) AddFlags(fs *pflag.FlagSet) {
	o.clusterBenchOptions.AddFlags(fs)
	fs.StringVar(&o.cfg.Namespace, "namespace", o.cfg.Namespace, "Namespace of the benchmark's Deployments (must not exist; deleted afterwards).")
	fs.IntVar(&o.cfg.Nodes, "nodes", o.cfg.Nodes, "Fake Nodes to register (Ready, 110 pods each; deleted afterwards).")
	fs.IntVar(&o.cfg.Pods, "pods", o.cfg.Pods, "Pods to create.")
	fs.IntVar(&o.cfg.PodsPerDeployment, "pods-per-deployment", o.cfg.PodsPerDeployment, "Replicas of each Deployment.")
	fs.DurationVar(&o.cfg.Timeout, "timeout", o.cfg.Timeout, "How long to wait for every pod to be bound.")
}

func (o *benchSchedulerOptions) Validate() error {
	errs := o.errors()
	o.cfg.Master = &rest.Config{} // placeholder for validation; the real one comes later
	errs = append(errs, o.cfg.Validate())
	o.cfg.Master = nil
	return errors.Join(errs...)
}

func benchSchedulerCommand() *command {
	o := &benchSchedulerOptions{clusterBenchOptions: clusterBenchOptions{outputOptions{Output: "table"}, benchTarget{masters: 3}}, cfg: schedbench.DefaultConfig()}
	return &command{
		name:     "scheduler",
		summary:  "register fake nodes, create pods through Deployments and measure pods bound per second and create-to-bound latency",
		flags:    o.AddFlags,
		noArgs:   true,
		validate: o.Validate,
		run: func(ctx context.Context, _ []string, out io.Writer) error {
			masters, cleanup, err := o.target.configs(ctx)
			if err != nil {
				return err
			}
			defer cleanup()
			o.cfg.Master = masters[0]
			rep, err := schedbench.Run(ctx, o.cfg)
			if err != nil && rep.Bound == 0 {
				return err
			}
			if o.Output == "json" {
				if perr := printJSON(out, rep); perr != nil {
					return perr
				}
				return err
			}
			fmt.Fprintf(out, "%d nodes, %d pods (%d bound) in %.1f s\n", rep.Nodes, rep.Pods, rep.Bound, rep.Elapsed)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "PODS BOUND/S\tP50 MS\tP99 MS\tMAX MS\t")
			fmt.Fprintf(tw, "%.0f\t%.1f\t%.1f\t%.1f\t\n", rep.PodsPerSecond, rep.P50, rep.P99, rep.Max)
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err
		},
	}
}

// benchStartupOptions are the flags of `capstan bench startup`.
type benchStartupOptions struct {
	clusterBenchOptions
	cfg startbench.Config
}

func (o *benchStartupOptions) AddFlags(fs *pflag.FlagSet) {
	o.clusterBenchOptions.AddFlags(fs)
	fs.StringVar(&o.cfg.Namespace, "namespace", o.cfg.Namespace, "Namespace of the benchmark's pods (must not exist; deleted afterwards).")
	fs.StringVar(&o.cfg.Image, "image", o.cfg.Image, "Image of the pods; it must be on the nodes already (the local cluster imports it).")
	fs.IntVar(&o.cfg.Pods, "pods", o.cfg.Pods, "Pods to create.")
	fs.Float64Var(&o.cfg.Rate, "rate", o.cfg.Rate, "Pods created per second.")
	fs.DurationVar(&o.cfg.Timeout, "timeout", o.cfg.Timeout, "Bound on the whole run.")
}

func (o *benchStartupOptions) Validate() error {
	errs := o.errors()
	o.cfg.Master = &rest.Config{} // placeholder for validation; the real one comes later
	errs = append(errs, o.cfg.Validate())
	o.cfg.Master = nil
	return errors.Join(errs...)
}

func benchStartupCommand() *command {
	o := &benchStartupOptions{clusterBenchOptions: clusterBenchOptions{outputOptions{Output: "table"}, benchTarget{masters: 3, agents: 1}}, cfg: startbench.DefaultConfig()}
	o.cfg.Image = testImageName
	return &command{
		name:     "startup",
		summary:  "create pods at a fixed rate on a real node and measure creation to all containers running (a local cluster with one agent, or --kubeconfig)",
		flags:    o.AddFlags,
		noArgs:   true,
		validate: o.Validate,
		run: func(ctx context.Context, _ []string, out io.Writer) error {
			masters, cleanup, err := o.target.configs(ctx)
			if err != nil {
				return err
			}
			defer cleanup()
			o.cfg.Master = masters[0]
			rep, err := startbench.Run(ctx, o.cfg)
			if err != nil && rep.Started == 0 {
				return err
			}
			if o.Output == "json" {
				if perr := printJSON(out, rep); perr != nil {
					return perr
				}
				return err
			}
			fmt.Fprintf(out, "%d pods at %g/s, %d started\n", rep.Pods, rep.Rate, rep.Started)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "P50 MS\tP99 MS\tMAX MS\t")
			fmt.Fprintf(tw, "%.1f\t%.1f\t%.1f\t\n", rep.P50, rep.P99, rep.Max)
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err
		},
	}
}

// benchHollowOptions are the flags of `capstan bench hollow`.
type benchHollowOptions struct {
	outputOptions
	masters int
	dir     string
	cfg     hollowbench.Config
}

func (o *benchHollowOptions) AddFlags(fs *pflag.FlagSet) {
	o.outputOptions.AddFlags(fs)
	fs.IntVar(&o.masters, "masters", o.masters, "Masters of the local cluster.")
	fs.StringVar(&o.dir, "data-dir", o.dir, "Where the local cluster keeps its data (default: a temporary directory, removed afterwards).")
	fs.IntVar(&o.cfg.Nodes, "nodes", o.cfg.Nodes, "Hollow nodes the agent runs.")
	fs.DurationVar(&o.cfg.Idle, "idle", o.cfg.Idle, "Length of each idle window the write rate is measured over (one before the agent starts, one after its nodes are Ready).")
	fs.DurationVar(&o.cfg.Timeout, "timeout", o.cfg.Timeout, "How long to wait for every hollow node to be Ready.")
}

func (o *benchHollowOptions) Validate() error {
	errs := []error{o.outputOptions.Validate(), o.cfg.Validate()}
	if o.masters < 1 || o.masters%2 == 0 {
		errs = append(errs, fmt.Errorf("--masters %d must be a positive odd number", o.masters))
	}
	return errors.Join(errs...)
}

func benchHollowCommand() *command {
	o := &benchHollowOptions{outputOptions: outputOptions{Output: "table"}, masters: 3, cfg: hollowbench.DefaultConfig()}
	return &command{
		name:     "hollow",
		summary:  "start a local cluster and one hollow agent, and measure the nodes' registration time, the agent's memory and the idle nodes' writes",
		flags:    o.AddFlags,
		noArgs:   true,
		validate: o.Validate,
		run: func(ctx context.Context, _ []string, out io.Writer) error {
			c, cleanup, err := startLocalCluster(ctx, o.dir, o.masters, 0)
			if err != nil {
				return err
			}
			defer cleanup()
			o.cfg.Cluster = c
			rep, err := hollowbench.Run(ctx, o.cfg)
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return printJSON(out, rep)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "NODES\tREGISTER S\tRSS MIB\tPEAK RSS MIB\tBASELINE WRITES/S\tIDLE WRITES/S\tNODE WRITES/S\t")
			fmt.Fprintf(tw, "%d\t%.1f\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t\n", rep.Nodes, rep.RegisterSeconds, float64(rep.RSSBytes)/(1<<20), float64(rep.PeakRSSBytes)/(1<<20),
				rep.BaselineWritesPerSecond, rep.IdleWritesPerSecond, rep.NodeWritesPerSecond)
			return tw.Flush()
		},
	}
}

// benchTarget is the cluster a benchmark measures: one given by a kubeconfig, or a local one
// it starts.
type benchTarget struct {
	kubeconfig string
	servers    []string
	masters    int
	dir        string
	// agents is how many real node agents the local cluster runs, with the test image.
	agents int
}

func (o *benchTarget) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", o.kubeconfig, "Measure the cluster of this kubeconfig instead of starting a local one.")
	fs.StringSliceVar(&o.servers, "server", o.servers, "With --kubeconfig: master URLs to spread clients over (default: the kubeconfig's server).")
	fs.IntVar(&o.masters, "masters", o.masters, "Masters of the local cluster started when --kubeconfig is not given.")
	fs.StringVar(&o.dir, "data-dir", o.dir, "Where the local cluster keeps its data (default: a temporary directory, removed afterwards).")
}

func (o *benchTarget) Validate() error {
	var errs []error
	if o.kubeconfig == "" && (o.masters < 1 || o.masters%2 == 0) {
		errs = append(errs, fmt.Errorf("--masters %d must be a positive odd number", o.masters))
	}
	if len(o.servers) > 0 && o.kubeconfig == "" {
		errs = append(errs, errors.New("--server needs --kubeconfig"))
	}
	return errors.Join(errs...)
}

// configs returns a REST configuration per master (starting the local cluster if needed) and
// a function that stops what was started.
func (o *benchTarget) configs(ctx context.Context) ([]*rest.Config, func(), error) {
	kubeconfig, servers, cleanup := o.kubeconfig, o.servers, func() {}
	if kubeconfig == "" {
		c, stop, err := startLocalCluster(ctx, o.dir, o.masters, o.agents)
		if err != nil {
			return nil, nil, err
		}
		cleanup = stop
		kubeconfig = c.Kubeconfig()
		for _, m := range c.Masters {
			servers = append(servers, m.URL())
		}
	}
	base, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("--kubeconfig %q: %w", kubeconfig, err)
	}
	if len(servers) == 0 {
		servers = []string{base.Host}
	}
	var out []*rest.Config
	for _, s := range servers {
		rc := rest.CopyConfig(base)
		rc.Host = s
		out = append(out, rc)
	}
	return out, cleanup, nil
}

// startLocalCluster starts masters as processes of this binary in dir (a temporary directory
// when empty) and returns a function that stops them and removes the temporary directory.
func startLocalCluster(ctx context.Context, dir string, masters, agents int) (*cluster.Cluster, func(), error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	if agents > 0 {
		if err := runtime.CheckHost(); err != nil {
			return nil, nil, fmt.Errorf("the local cluster's node agent cannot run here: %w", err)
		}
	}
	temp := dir == ""
	if temp {
		if dir, err = os.MkdirTemp("", "capstan-bench-"); err != nil {
			return nil, nil, err
		}
	}
	c, err := cluster.Start(ctx, cluster.Config{Binary: bin, Dir: dir, Masters: masters})
	cleanup := func() {
		if c != nil {
			if agents > 0 {
				// Containers outlive their agent by design: stop them through the API first.
				if err := drainPods(c.Kubeconfig(), 2*time.Minute); err != nil {
					fmt.Fprintf(os.Stderr, "capstan: containers of the local cluster may be left running under %s: %v\n", dir, err)
				}
			}
			c.Close()
		}
		if temp {
			os.RemoveAll(dir)
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	var started []*cluster.Agent
	for i := range agents {
		a, err := c.StartAgent(ctx, cluster.AgentConfig{Name: fmt.Sprintf("bench-a%d", i+1), ImportTestImage: true})
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		started = append(started, a)
	}
	if err := c.WaitNodesReady(ctx, started...); err != nil {
		cleanup()
		return nil, nil, err
	}
	return c, cleanup, nil
}

// drainPods deletes every pod of the cluster and waits up to timeout until the agents have
// stopped their containers and removed them.
func drainPods(kubeconfig string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	grace := int64(1)
	left := 0
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil // a master may be busy; retry until the deadline
		}
		left = len(pods.Items)
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				_ = client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
			}
		}
		return left == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%d pods left after %s: %w", left, timeout, err)
	}
	return nil
}

// printResults prints benchmark results as a right-aligned table.
func printResults(out io.Writer, results []storebench.Result) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OP\tCLIENTS\tOPS/S\tP50 MS\tP99 MS\tMAX MS\tERRORS\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t\n", r.Op, r.Clients, r.PerSecond, r.P50, r.P99, r.Max, r.Errors)
	}
	return tw.Flush()
}
