// Package manager runs Capstan's scheduler and controllers on the Raft leader: one set per
// leadership term, reading from informers fed by the local store and writing through the API
// server in-process with the term's fence, so that nothing a deposed leader does lands.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/controllers/daemonset"
	"github.com/capstan-io/capstan/controllers/deployment"
	"github.com/capstan-io/capstan/controllers/endpoints"
	"github.com/capstan-io/capstan/controllers/eventttl"
	"github.com/capstan-io/capstan/controllers/garbagecollector"
	"github.com/capstan-io/capstan/controllers/informers"
	"github.com/capstan-io/capstan/controllers/namespace"
	"github.com/capstan-io/capstan/controllers/nodeipam"
	"github.com/capstan-io/capstan/controllers/nodelifecycle"
	"github.com/capstan-io/capstan/controllers/replicaset"
	"github.com/capstan-io/capstan/controllers/scheduler"
	"github.com/capstan-io/capstan/controllers/serviceaccount"
)

// User is the identity the controllers act as.
const User = "system:kube-controller-manager"

// Config says what the controllers run against.
type Config struct {
	// API is this master's API server: the controllers' reads come from its registry, their
	// writes go through its handlers in-process.
	API *apiserver.Server
	// Fence guards every write (raftstore.Store.LeaderFence); required.
	Fence apiserver.FenceFunc
	// Liveness is the gossip membership; nil runs no node lifecycle controller.
	Liveness nodelifecycle.Liveness
	// NodeLifecycle tunes the node lifecycle controller.
	NodeLifecycle nodelifecycle.Options
	// Scheduler tunes the scheduler.
	Scheduler scheduler.Options
	// NodeIPAM is the pod network nodes get their pod CIDRs from.
	NodeIPAM nodeipam.Options
	// EventTTL says when Events expire.
	EventTTL eventttl.Options
	// Workers is how many keys each controller reconciles at once.
	Workers int
	// Logger receives the controllers' logs.
	Logger *slog.Logger
}

// DefaultConfig returns the settings Run uses for zero fields.
func DefaultConfig() Config {
	return Config{NodeLifecycle: nodelifecycle.DefaultOptions(), Scheduler: scheduler.DefaultOptions(), NodeIPAM: nodeipam.DefaultOptions(), EventTTL: eventttl.DefaultOptions(), Workers: 5}
}

// Validate reports settings Run cannot work with.
func (c Config) Validate() error {
	var errs []error
	if c.API == nil {
		errs = append(errs, errors.New("manager: the API server is required"))
	}
	if c.Fence == nil {
		errs = append(errs, errors.New("manager: a fence is required: unfenced controllers could act after losing leadership"))
	}
	if err := c.NodeIPAM.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("manager: %w", err))
	}
	if err := c.EventTTL.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("manager: %w", err))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("manager: workers must be at least 1, not %d", c.Workers))
	}
	return errors.Join(errs...)
}

// runner is one controller's loop.
type runner struct {
	name string
	run  func(ctx context.Context)
}

// Run starts the scheduler and every controller and blocks until ctx ends (the leadership
// term is over); every goroutine it started has ended when it returns.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(log.Handler())) // the controllers log through klog's context logger
	rc := cfg.API.Loopback(&apiserver.User{Name: User, Groups: []string{apiserver.GroupMasters}}, cfg.Fence)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("manager: loopback client: %w", err)
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("manager: loopback metadata client: %w", err)
	}
	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := func(component string) record.EventRecorder {
		return events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
	}

	f := informers.NewFactory(cfg.API.Registry())
	sched := scheduler.NewScheduler(client, binder{api: cfg.API, fence: cfg.Fence}, f.Pods(), f.Nodes(), recorder("default-scheduler"), cfg.Scheduler)
	rs := replicaset.NewController(client, f.ReplicaSets(), f.Pods(), recorder("replicaset-controller"))
	deploy := deployment.NewController(client, f.Deployments(), f.ReplicaSets(), f.Pods(), recorder("deployment-controller"))
	ds := daemonset.NewController(client, f.DaemonSets(), f.ControllerRevisions(), f.Pods(), f.Nodes(), recorder("daemonset-controller"))
	resources := informers.Resources(cfg.API.Registry())
	ns := namespace.NewController(client, md, f.Namespaces(), f, resources)
	gc := garbagecollector.NewController(md, f, resources)
	sa := serviceaccount.NewController(client, f.Namespaces(), f.ServiceAccounts())
	ep := endpoints.NewController(client, f.Services(), f.Pods(), f.Endpoints(), f.EndpointSlices(), recorder("endpoint-controller"))
	ipam, err := nodeipam.NewController(client, f.Nodes(), recorder("node-ipam-controller"), cfg.NodeIPAM)
	if err != nil {
		return err
	}
	ttl, err := eventttl.NewController(client, f.Informer(schema.GroupResource{Resource: "events"}), cfg.EventTTL)
	if err != nil {
		return err
	}
	runners := []runner{
		{"scheduler", sched.Run},
		{"replicaset", func(ctx context.Context) { rs.Run(ctx, cfg.Workers) }},
		{"deployment", func(ctx context.Context) { deploy.Run(ctx, cfg.Workers) }},
		{"daemonset", func(ctx context.Context) { ds.Run(ctx, cfg.Workers) }},
		{"namespace", func(ctx context.Context) { ns.Run(ctx, cfg.Workers) }},
		{"garbagecollector", func(ctx context.Context) { gc.Run(ctx, cfg.Workers) }},
		{"serviceaccount", func(ctx context.Context) { sa.Run(ctx, 1) }},
		{"endpoints", func(ctx context.Context) { ep.Run(ctx, cfg.Workers) }},
		{"nodeipam", ipam.Run},
		{"eventttl", ttl.Run},
	}
	if cfg.Liveness != nil {
		opts := cfg.NodeLifecycle
		opts.Logger = log
		nl := nodelifecycle.NewController(client, f.Nodes(), f.Pods(), cfg.Liveness, recorder("node-controller"), opts)
		runners = append(runners, runner{"nodelifecycle", nl.Run})
	}

	f.Start(ctx)
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Debug("controller started", "controller", r.name)
			r.run(ctx)
			log.Debug("controller stopped", "controller", r.name)
		}()
	}
	log.Info("controllers running", "controllers", len(runners))
	wg.Wait()
	f.Wait()
	return nil
}

// binder binds the scheduler's pods through the API server, fenced by the leader's term.
type binder struct {
	api   *apiserver.Server
	fence apiserver.FenceFunc
}

// Bind implements scheduler.Binder.
func (b binder) Bind(ctx context.Context, bindings []scheduler.Binding) []error {
	in := make([]apiserver.PodBinding, len(bindings))
	for i, x := range bindings {
		in[i] = apiserver.PodBinding{Pod: x.Pod, Node: x.Node}
	}
	return b.api.BindPods(ctx, in, b.fence)
}
