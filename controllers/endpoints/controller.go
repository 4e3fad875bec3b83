package endpoints

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// ControllerName is the value of the managed-by labels on the EndpointSlices
// (endpointslice.kubernetes.io/managed-by) and Endpoints
// (LabelEndpointsManagedBy) this controller maintains. Objects without it
// belong to users or other controllers and are never deleted.
const ControllerName = "capstan-controllers"

// LabelEndpointsManagedBy is the label Kubernetes (1.33 and later) puts on
// the Endpoints objects its endpoints controller maintains.
const LabelEndpointsManagedBy = "endpoints.kubernetes.io/managed-by"

// DefaultMaxEndpointsPerSlice is the most endpoints one EndpointSlice holds,
// Kubernetes' default.
const DefaultMaxEndpointsPerSlice = 100

// Controller maintains the Endpoints object and the EndpointSlices of every
// Service with a selector. Create it with NewController before the informers
// start, then call Run once.
type Controller struct {
	client          kubernetes.Interface
	serviceLister   corelisters.ServiceLister
	podLister       corelisters.PodLister
	endpointsLister corelisters.EndpointsLister
	sliceLister     discoverylisters.EndpointSliceLister
	recorder        record.EventRecorder
	expectations    *sliceExpectations
	queue           workqueue.TypedRateLimitingInterface[string]
	maxPerSlice     int

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
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
	clock       clock.WithTicker
	maxPerSlice int
}

// WithClock makes the Controller read time (expectation expiry, retry
// delays) from clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// WithMaxEndpointsPerSlice caps the endpoints of one EndpointSlice at n
// (DefaultMaxEndpointsPerSlice when n is not positive).
func WithMaxEndpointsPerSlice(n int) Option {
	return func(o *options) { o.maxPerSlice = n }
}

// NewController returns an endpoints controller that writes Endpoints and
// EndpointSlices through client, reads services, pods, Endpoints and
// EndpointSlices from the given informers and records events with recorder.
// It registers event handlers on all four; Run removes them when it returns.
func NewController(client kubernetes.Interface, services coreinformers.ServiceInformer, pods coreinformers.PodInformer,
	endpoints coreinformers.EndpointsInformer, endpointSlices discoveryinformers.EndpointSliceInformer,
	recorder record.EventRecorder, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}, maxPerSlice: DefaultMaxEndpointsPerSlice}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxPerSlice <= 0 {
		o.maxPerSlice = DefaultMaxEndpointsPerSlice
	}
	c := &Controller{
		client:          client,
		serviceLister:   services.Lister(),
		podLister:       pods.Lister(),
		endpointsLister: endpoints.Lister(),
		sliceLister:     endpointSlices.Lister(),
		recorder:        recorder,
		expectations:    newSliceExpectations(o.clock),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoints", Clock: o.clock},
		),
		maxPerSlice: o.maxPerSlice,
	}
	c.addHandler(services.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueObject,
		UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
		DeleteFunc: c.enqueueObject,
	})
	c.addHandler(pods.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	// Endpoints and slices share their service's key; a change made by
	// somebody else is corrected, one of the controller's own is a no-op sync.
	c.addHandler(endpoints.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueObject,
		UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
		DeleteFunc: c.enqueueObject,
	})
	c.addHandler(endpointSlices.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueSlice,
		UpdateFunc: func(_, cur any) { c.enqueueSlice(cur) },
		DeleteFunc: c.enqueueSlice,
	})
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("endpoints: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes services with workers
// goroutines until ctx is done. When it returns, the queue is shut down,
// every worker has exited and the event handlers are removed. Run must be
// called at most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "endpoints")
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

// processNextWorkItem syncs one service; failures are requeued with rate
// limiting.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.Sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(2).Info("Error syncing endpoints, requeueing", "service", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// enqueueObject adds the "namespace/name" key of a service or Endpoints
// object (the two share it) to the queue.
func (c *Controller) enqueueObject(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// enqueueSlice adds the service key of a slice this controller manages.
func (c *Controller) enqueueSlice(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if key, ok := sliceService(s); ok {
		c.queue.Add(key)
	}
}

// addPod enqueues the services selecting a new pod.
func (c *Controller) addPod(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		c.enqueueServicesOf(pod)
	}
}

// updatePod enqueues the services a pod change affects: those selecting it
// before or after when its labels changed, those selecting it when anything
// its endpoints show changed.
func (c *Controller) updatePod(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if !maps.Equal(old.Labels, cur.Labels) {
		c.enqueueServicesOf(old)
		c.enqueueServicesOf(cur)
		return
	}
	if podEndpointsChanged(old, cur) {
		c.enqueueServicesOf(cur)
	}
}

// deletePod enqueues the services that selected a deleted pod.
func (c *Controller) deletePod(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		c.enqueueServicesOf(pod)
	}
}

// enqueueServicesOf enqueues every service with a selector that matches pod.
func (c *Controller) enqueueServicesOf(pod *corev1.Pod) {
	services, err := c.serviceLister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	set := labels.Set(pod.Labels)
	for _, svc := range services {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(set) {
			c.queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}
