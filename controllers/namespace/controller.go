package namespace

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/controllers/informers"
)

// Default retry delays of a namespace whose content is not gone yet (and of
// failed syncs): exponential, doubling per retry. Kubernetes caps at one
// minute; a shorter cap suits Capstan's in-process API, and every deletion
// in a terminating namespace requeues it at once anyway.
const (
	// DefaultMinRetryDelay is the delay before the first retry.
	DefaultMinRetryDelay = 100 * time.Millisecond
	// DefaultMaxRetryDelay is the longest delay between two retries.
	DefaultMaxRetryDelay = 10 * time.Second
)

// Resource is a served resource (see informers.Resources).
type Resource = informers.Resource

// Informers gives a shared informer (typed objects; read them with
// meta.Accessor) for any served resource; the production one is fed by the
// local store. The controller calls Informer once per namespaced resource, in
// NewController, and expects the caller to start the informers afterwards.
// The informers should be indexed by namespace (cache.NamespaceIndex); the
// controller falls back to a full scan when they are not.
type Informers interface {
	Informer(gr schema.GroupResource) cache.SharedIndexInformer
}

// Controller finalizes namespaces that are being deleted once their content
// is gone. Create it with NewController before the informers start, then
// call Run once.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	nsLister  corelisters.NamespaceLister
	resources []contentResource
	queue     workqueue.TypedRateLimitingInterface[string]
	clock     clock.PassiveClock

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
}

// contentResource is one namespaced resource whose objects the controller
// deletes, with the informer that shows them.
type contentResource struct {
	Resource
	indexer cache.Indexer
}

// registration is one event handler added to one shared informer.
type registration struct {
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration
}

// Option adjusts a Controller built by NewController.
type Option func(*options)

// options collects the settings Options adjust.
type options struct {
	clock    clock.WithTicker
	minDelay time.Duration
	maxDelay time.Duration
}

// WithClock makes the Controller read time (condition transition times, retry
// delays) from clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// WithRetryDelays sets the exponential retry delays of a namespace whose
// content remains: from minDelay, doubling, at most maxDelay. Values that are
// not positive, or a maxDelay below minDelay, keep the defaults.
func WithRetryDelays(minDelay, maxDelay time.Duration) Option {
	return func(o *options) {
		if minDelay > 0 && maxDelay >= minDelay {
			o.minDelay, o.maxDelay = minDelay, maxDelay
		}
	}
}

// NewController returns a namespace controller that writes namespaces through
// client and any resource through md, reads namespaces from nsInformer and
// the content of namespaces from the informers of the namespaced resources
// among resources. It registers event handlers on all of them; Run removes
// them when it returns.
func NewController(client kubernetes.Interface, md metadata.Interface, nsInformer coreinformers.NamespaceInformer, informers Informers, resources []Resource, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}, minDelay: DefaultMinRetryDelay, maxDelay: DefaultMaxRetryDelay}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Controller{
		client:   client,
		metadata: md,
		nsLister: nsInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](o.minDelay, o.maxDelay),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace", Clock: o.clock},
		),
		clock: o.clock,
	}
	c.addHandler(nsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
	})
	for _, r := range resources {
		if !r.Namespaced {
			continue
		}
		inf := informers.Informer(r.GVR.GroupResource())
		c.resources = append(c.resources, contentResource{Resource: r, indexer: inf.GetIndexer()})
		c.addHandler(inf, cache.ResourceEventHandlerFuncs{DeleteFunc: c.contentDeleted})
	}
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("namespace: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes namespaces with
// workers goroutines until ctx is done. When it returns, the queue is shut
// down, every worker has exited and the event handlers are removed. Run must
// be called at most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "namespace")
	logger.Info("Starting controller")
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		wg.Wait()
		for _, r := range c.handlers {
			if err := r.informer.RemoveEventHandler(r.handle); err != nil {
				logger.Error(err, "Removing event handler")
			}
		}
		logger.Info("Shutting down controller")
	}()

	synced := make([]cache.InformerSynced, 0, 2*len(c.handlers))
	for _, r := range c.handlers {
		synced = append(synced, r.informer.HasSynced, r.handle.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	ctx = klog.NewContext(ctx, logger)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.worker, time.Second)
		}()
	}
	<-ctx.Done()
}

// worker processes keys until the queue is shut down.
func (c *Controller) worker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

// processNextWorkItem syncs one namespace; namespaces with content left and
// failures are requeued with rate limiting.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.Sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(4).Info("Namespace not finalized yet, requeueing", "namespace", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// enqueueNamespace adds a namespace's name to the queue.
func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// contentDeleted wakes the namespace of a deleted object when that namespace
// is terminating: it may be empty now.
func (c *Controller) contentDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil || m.GetNamespace() == "" {
		return
	}
	ns, err := c.nsLister.Get(m.GetNamespace())
	if err != nil || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}
