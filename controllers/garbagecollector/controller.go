package garbagecollector

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"

	"github.com/capstan-io/capstan/controllers/informers"
)

// DefaultResyncPeriod is how often the collector re-examines everything the
// cache shows needing attention.
const DefaultResyncPeriod = 30 * time.Second

// absentOwnerCacheSize bounds the owners remembered as confirmed absent.
const absentOwnerCacheSize = 10000

// Resource is a served resource (see informers.Resources).
type Resource = informers.Resource

// Informers gives a shared informer (typed objects; read them with
// meta.Accessor) for any served resource; the production one is fed by the
// local store. The collector calls Informer once per resource, in
// NewController, adds two indexes to each informer and expects the caller to
// start the informers afterwards.
type Informers interface {
	Informer(gr schema.GroupResource) cache.SharedIndexInformer
}

// Item identifies one object for the collector to examine: the queue's key
// and Sync's argument.
type Item struct {
	// Resource is the object's resource.
	Resource schema.GroupResource
	// Namespace is the object's namespace, empty for cluster-scoped objects.
	Namespace string
	// Name is the object's name.
	Name string
	// UID is the object's UID; an object of the same name with another UID
	// is another object.
	UID types.UID
}

// String returns the item as "resource.group namespace/name (uid)".
func (i Item) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", i.Resource, i.Namespace, i.Name, i.UID)
}

// Controller is the garbage collector. Create it with NewController before
// the informers start, then call Run once.
type Controller struct {
	metadata  metadata.Interface
	resources []*resource
	byGR      map[schema.GroupResource]*resource
	byGK      map[schema.GroupKind]*resource
	// absent remembers owners confirmed gone, keyed by absentKey.
	absent *lru.Cache
	queue  workqueue.TypedRateLimitingInterface[Item]
	resync time.Duration

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
}

// resource is one served resource with its informer.
type resource struct {
	Resource
	informer cache.SharedIndexInformer
	indexer  cache.Indexer
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
	resync time.Duration
}

// WithResyncPeriod sets how often the collector re-examines everything the
// cache shows needing attention (DefaultResyncPeriod when d is not
// positive).
func WithResyncPeriod(d time.Duration) Option {
	return func(o *options) { o.resync = d }
}

// NewController returns a garbage collector that writes through md and reads
// every resource in resources from its informer in informers. It adds its
// indexes and event handlers to those informers; Run removes the handlers
// when it returns.
func NewController(md metadata.Interface, informers Informers, resources []Resource, opts ...Option) *Controller {
	o := options{resync: DefaultResyncPeriod}
	for _, opt := range opts {
		opt(&o)
	}
	if o.resync <= 0 {
		o.resync = DefaultResyncPeriod
	}
	c := &Controller{
		metadata: md,
		byGR:     map[schema.GroupResource]*resource{},
		byGK:     map[schema.GroupKind]*resource{},
		absent:   lru.New(absentOwnerCacheSize),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[Item](),
			workqueue.TypedRateLimitingQueueConfig[Item]{Name: "garbagecollector"},
		),
		resync: o.resync,
	}
	for _, res := range resources {
		inf := informers.Informer(res.GVR.GroupResource())
		if err := addIndexers(inf); err != nil {
			utilruntime.HandleError(fmt.Errorf("garbagecollector: indexing %s: %w", res.GVR.Resource, err))
			continue
		}
		r := &resource{Resource: res, informer: inf, indexer: inf.GetIndexer()}
		c.resources = append(c.resources, r)
		c.byGR[res.GVR.GroupResource()] = r
		c.byGK[schema.GroupKind{Group: res.GVR.Group, Kind: res.Kind}] = r
		c.addHandler(inf, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.objectAdded(r, obj) },
			UpdateFunc: func(old, cur any) { c.objectUpdated(r, old, cur) },
			DeleteFunc: func(obj any) { c.objectDeleted(r, obj) },
		})
	}
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("garbagecollector: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then examines items with workers
// goroutines and runs the periodic full pass until ctx is done. When it
// returns, the queue is shut down, every goroutine it started has exited and
// the event handlers are removed. Run must be called at most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "garbagecollector")
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		wait.UntilWithContext(ctx, func(context.Context) { c.Resync() }, c.resync)
	}()
	<-ctx.Done()
}

// worker processes items until the queue is shut down.
func (c *Controller) worker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

// processNextWorkItem examines one item; failures are requeued with rate
// limiting.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	item, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(item)
	if err := c.Sync(ctx, item); err != nil {
		klog.FromContext(ctx).V(2).Info("Error collecting, requeueing", "item", item, "err", err)
		c.queue.AddRateLimited(item)
		return true
	}
	c.queue.Forget(item)
	return true
}

// Resync enqueues every object the cache shows needing attention: owners
// being deleted with the orphan or foregroundDeletion finalizer, and objects
// with an owner that is missing from the cache or waits for its dependents.
// Run calls it every resync period; it only reads the informers.
func (c *Controller) Resync() {
	for _, r := range c.resources {
		for _, obj := range r.indexer.List() {
			m, err := meta.Accessor(obj)
			if err != nil {
				continue
			}
			if m.GetDeletionTimestamp() != nil {
				if hasGCFinalizer(m) {
					c.enqueue(r, m)
				}
				continue
			}
			if len(m.GetOwnerReferences()) > 0 && !c.ownersSolid(m) {
				c.enqueue(r, m)
			}
		}
	}
}

// enqueue adds the item of object m of resource r to the queue.
func (c *Controller) enqueue(r *resource, m metav1.Object) {
	c.queue.Add(itemOf(r, m))
}

// itemOf returns the item naming object m of resource r.
func itemOf(r *resource, m metav1.Object) Item {
	return Item{Resource: r.GVR.GroupResource(), Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()}
}

// needsAttention reports whether an object may be the collector's business
// by itself: it has owners, or it is being deleted with a finalizer the
// collector serves.
func needsAttention(m metav1.Object) bool {
	if m.GetDeletionTimestamp() != nil {
		return hasGCFinalizer(m)
	}
	return len(m.GetOwnerReferences()) > 0
}

// objectAdded enqueues a new object that has owners or is being deleted with
// a collector finalizer.
func (c *Controller) objectAdded(r *resource, obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if needsAttention(m) {
		c.enqueue(r, m)
	}
}

// objectUpdated enqueues an object whose owners or deletion state changed,
// and the owners it stopped blocking.
func (c *Controller) objectUpdated(r *resource, oldObj, curObj any) {
	old, err1 := meta.Accessor(oldObj)
	cur, err2 := meta.Accessor(curObj)
	if err1 != nil || err2 != nil || old.GetResourceVersion() == cur.GetResourceVersion() {
		return
	}
	if old.GetUID() != cur.GetUID() {
		// Deleted and recreated between two events.
		c.objectDeleted(r, oldObj)
		c.objectAdded(r, curObj)
		return
	}
	refsChanged := !slices.EqualFunc(old.GetOwnerReferences(), cur.GetOwnerReferences(), sameRef)
	deletionChanged := (old.GetDeletionTimestamp() == nil) != (cur.GetDeletionTimestamp() == nil) ||
		!slices.Equal(old.GetFinalizers(), cur.GetFinalizers())
	if (refsChanged || deletionChanged) && needsAttention(cur) {
		c.enqueue(r, cur)
	}
	if refsChanged {
		c.enqueueWaitingOwners(old)
	}
}

// objectDeleted enqueues the dependents of a deleted object, which may be
// garbage now, and its owners that were waiting for it.
func (c *Controller) objectDeleted(r *resource, obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	for _, d := range c.dependents(m) {
		c.enqueue(d.res, d.obj)
	}
	c.enqueueWaitingOwners(m)
}

// enqueueWaitingOwners enqueues the owners of m that are being deleted in
// the foreground: m no longer blocks them.
func (c *Controller) enqueueWaitingOwners(m metav1.Object) {
	for _, ref := range m.GetOwnerReferences() {
		if owner, r := c.cachedOwner(m.GetNamespace(), ref); owner != nil && waitingForDependents(owner) {
			c.enqueue(r, owner)
		}
	}
}

// sameRef reports whether two owner references are identical.
func sameRef(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind && a.APIVersion == b.APIVersion &&
		boolValue(a.Controller) == boolValue(b.Controller) && boolValue(a.BlockOwnerDeletion) == boolValue(b.BlockOwnerDeletion)
}

// boolValue returns *p, or false for nil.
func boolValue(p *bool) bool { return p != nil && *p }
