package deployment

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/controllers/internal/ownership"
)

// maxRetries is how many times a failing key is retried with backoff
// (5ms doubling, about 82s in total) before it is dropped until its next event.
const maxRetries = 15

// controllerKind is the kind written into the ownerReferences of ReplicaSets.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// Controller reconciles Deployments with their ReplicaSets. Create it with
// NewController before the informers start, then call Run once.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	// podIndex finds a controller's pods; nil when the index could not be added, and
	// syncs then list the pods by selector.
	podIndex *ownership.PodIndex
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[string]
	clock    clock.WithTicker

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
	// enqueueAfter and enqueueRateLimited requeue a key for a progress check;
	// tests replace them to observe requeues.
	enqueueAfter       func(key string, d time.Duration)
	enqueueRateLimited func(key string)
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
	clock clock.WithTicker
}

// WithClock makes the Controller read time (condition timestamps, progress
// deadlines, delayed requeues) from clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// NewController returns a Deployment controller that writes through client,
// reads Deployments, ReplicaSets and pods from the given informers and
// records events with recorder. It registers event handlers on the three
// informers; Run removes them when it returns.
func NewController(client kubernetes.Interface, dInformer appsinformers.DeploymentInformer, rsInformer appsinformers.ReplicaSetInformer, podInformer coreinformers.PodInformer, recorder record.EventRecorder, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Controller{
		client:    client,
		dLister:   dInformer.Lister(),
		rsLister:  rsInformer.Lister(),
		podLister: podInformer.Lister(),
		recorder:  recorder,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment", Clock: o.clock},
		),
		clock: o.clock,
	}
	c.enqueueAfter = c.queue.AddAfter
	c.enqueueRateLimited = c.queue.AddRateLimited
	if idx, err := ownership.NewPodIndex(podInformer.Informer()); err != nil {
		utilruntime.HandleError(fmt.Errorf("deployment: %w", err))
	} else {
		c.podIndex = idx
	}
	c.addHandler(dInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueObject,
		UpdateFunc: func(_, cur any) { c.enqueueObject(cur) },
		DeleteFunc: c.enqueueObject,
	})
	c.addHandler(rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addReplicaSet,
		UpdateFunc: c.updateReplicaSet,
		DeleteFunc: c.deleteReplicaSet,
	})
	c.addHandler(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
	})
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("deployment: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes keys with workers
// goroutines until ctx is done. When it returns, the queue is shut down, every
// worker has exited and the event handlers are removed. Run must be called at
// most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "deployment")
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

// processNextWorkItem syncs one key. Failures are retried with backoff up to
// maxRetries times; failures caused by a terminating namespace are not.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.Sync(ctx, key)
	switch {
	case err == nil || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		klog.FromContext(ctx).V(2).Info("Error syncing Deployment, requeueing", "key", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		klog.FromContext(ctx).Error(err, "Dropping Deployment out of the queue", "key", key)
		c.queue.Forget(key)
	}
	return true
}

// enqueueObject enqueues a Deployment (or a tombstone holding one).
func (c *Controller) enqueueObject(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// enqueue adds d's key to the queue.
func (c *Controller) enqueue(d *appsv1.Deployment) {
	c.enqueueObject(d)
}

// resolveControllerRef returns the Deployment ref points to, or nil when ref
// is not a Deployment reference or names a Deployment that no longer exists
// under that UID.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := c.dLister.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// addReplicaSet wakes the Deployment that controls a new ReplicaSet, or the
// Deployments that might adopt an orphan.
func (c *Controller) addReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		c.deleteReplicaSet(rs)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueMatching(rs)
}

// updateReplicaSet wakes the Deployments affected by a ReplicaSet change.
func (c *Controller) updateReplicaSet(oldObj, curObj any) {
	oldRS, ok1 := oldObj.(*appsv1.ReplicaSet)
	curRS, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || curRS.ResourceVersion == oldRS.ResourceVersion {
		return // a resync, not a change
	}
	curRef := metav1.GetControllerOfNoCopy(curRS)
	oldRef := metav1.GetControllerOfNoCopy(oldRS)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.resolveControllerRef(oldRS.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.resolveControllerRef(curRS.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(curRS.Labels, oldRS.Labels) {
		c.enqueueMatching(curRS)
	}
}

// deleteReplicaSet wakes the Deployment that controlled a deleted ReplicaSet.
func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rs, ok = tombstone.Obj.(*appsv1.ReplicaSet); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolveControllerRef(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
	}
}

// deletePod wakes a Recreate Deployment once the last pod of its ReplicaSets
// is gone, since the new ReplicaSet waits for that.
func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tombstone.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	dRef := metav1.GetControllerOfNoCopy(rs)
	if dRef == nil {
		return
	}
	d := c.resolveControllerRef(rs.Namespace, dRef)
	if d == nil || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		return
	}
	rsList, err := c.ownedReplicaSets(d)
	if err != nil {
		return
	}
	podMap, err := c.podMap(d, rsList)
	if err != nil {
		return
	}
	for _, pods := range podMap {
		if len(pods) > 0 {
			return
		}
	}
	c.enqueue(d)
}

// enqueueMatching enqueues every Deployment whose non-empty selector
// matches rs's labels.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	if len(rs.Labels) == 0 {
		return
	}
	ds, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || selector.Empty() || !selector.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.enqueue(d)
	}
}
