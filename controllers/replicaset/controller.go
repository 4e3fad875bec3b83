package replicaset

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// DefaultBurstReplicas is the most pods one sync of one ReplicaSet creates or
// deletes, as in Kubernetes; the rest waits for the next sync.
const DefaultBurstReplicas = 500

// controllerKind is the kind written into the ownerReferences of pods.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// Controller reconciles ReplicaSets with their pods. Create it with
// NewController before the informers start, then call Run once.
type Controller struct {
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	// podIndex finds a controller's pods; nil when the index could not be added, and
	// syncs then read every pod of the namespace.
	podIndex     *ownership.PodIndex
	client       kubernetes.Interface
	pods         podControl
	expectations *ownership.Expectations
	queue        workqueue.TypedRateLimitingInterface[string]
	clock        clock.WithTicker
	burst        int

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
	// enqueueAfter adds a key after a delay; tests replace it to observe requeues.
	enqueueAfter func(key string, d time.Duration)
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
	burst int
}

// WithClock makes the Controller read time (pod availability, expectation
// expiry, delayed requeues) from clk instead of the wall clock.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// WithBurstReplicas caps the pods created or deleted for one ReplicaSet in one
// sync at n (DefaultBurstReplicas when n is not positive).
func WithBurstReplicas(n int) Option {
	return func(o *options) { o.burst = n }
}

// NewController returns a ReplicaSet controller that writes through client,
// reads ReplicaSets and pods from the given informers and records events with
// recorder. It registers event handlers on both informers; Run removes them
// when it returns.
func NewController(client kubernetes.Interface, rsInformer appsinformers.ReplicaSetInformer, podInformer coreinformers.PodInformer, recorder record.EventRecorder, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}, burst: DefaultBurstReplicas}
	for _, opt := range opts {
		opt(&o)
	}
	if o.burst <= 0 {
		o.burst = DefaultBurstReplicas
	}
	c := &Controller{
		rsLister:     rsInformer.Lister(),
		podLister:    podInformer.Lister(),
		client:       client,
		pods:         podControl{client: client, recorder: recorder},
		expectations: ownership.NewExpectations(o.clock),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset", Clock: o.clock},
		),
		clock: o.clock,
		burst: o.burst,
	}
	c.enqueueAfter = c.queue.AddAfter
	if idx, err := ownership.NewPodIndex(podInformer.Informer()); err != nil {
		utilruntime.HandleError(fmt.Errorf("replicaset: %w", err))
	} else {
		c.podIndex = idx
	}
	c.addHandler(rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addRS,
		UpdateFunc: c.updateRS,
		DeleteFunc: c.deleteRS,
	})
	c.addHandler(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("replicaset: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes keys with workers
// goroutines until ctx is done. When it returns, the queue is shut down, every
// worker has exited and the event handlers are removed. Run must be called at
// most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "replicaset")
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

// processNextWorkItem syncs one key; failures are requeued with rate limiting.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.Sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(2).Info("Error syncing ReplicaSet, requeueing", "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// enqueue adds rs's key to the queue.
func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// resolveControllerRef returns the ReplicaSet ref points to, or nil when ref
// is not a ReplicaSet reference or names a ReplicaSet that no longer exists
// under that UID.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// addRS enqueues a new ReplicaSet.
func (c *Controller) addRS(obj any) {
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		c.enqueue(rs)
	}
}

// updateRS enqueues an updated ReplicaSet. A changed UID means the old
// ReplicaSet was deleted and recreated under the same name between two
// events, so the old one is handled as deleted first.
func (c *Controller) updateRS(oldObj, curObj any) {
	oldRS, ok1 := oldObj.(*appsv1.ReplicaSet)
	curRS, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 {
		return
	}
	if oldRS.UID != curRS.UID {
		if key, err := cache.MetaNamespaceKeyFunc(oldRS); err == nil {
			c.deleteRS(cache.DeletedFinalStateUnknown{Key: key, Obj: oldRS})
		}
	}
	c.enqueue(curRS)
}

// deleteRS forgets a deleted ReplicaSet's expectations and enqueues its key.
func (c *Controller) deleteRS(obj any) {
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
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.expectations.Delete(key)
	c.queue.Add(key)
}

// addPod observes the creation of a controlled pod, or wakes the ReplicaSets
// that might adopt an orphan.
func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// A pod that shows up already terminating is not a creation to observe.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		rs := c.resolveControllerRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key, err := cache.MetaNamespaceKeyFunc(rs)
		if err != nil {
			return
		}
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

// updatePod wakes the ReplicaSets affected by a pod change: its controller,
// its former controller, or those that might adopt it.
func (c *Controller) updatePod(oldObj, curObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	curPod, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || curPod.ResourceVersion == oldPod.ResourceVersion {
		return // a resync, not a change
	}
	labelChanged := !reflect.DeepEqual(curPod.Labels, oldPod.Labels)
	if curPod.DeletionTimestamp != nil {
		// Graceful deletion started: the replacement should start now, not when
		// the kubelet finally removes the pod.
		c.deletePod(curPod)
		if labelChanged {
			c.deletePod(oldPod)
		}
		return
	}
	curRef := metav1.GetControllerOfNoCopy(curPod)
	oldRef := metav1.GetControllerOfNoCopy(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(oldPod.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		if rs := c.resolveControllerRef(curPod.Namespace, curRef); rs != nil {
			c.enqueue(rs)
		}
		return
	}
	if labelChanged || refChanged {
		c.enqueueMatching(curPod)
	}
}

// deletePod observes the deletion of a controlled pod.
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
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(rs)
	if err != nil {
		return
	}
	c.expectations.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// enqueueMatching enqueues every ReplicaSet whose selector matches pod.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	rss, err := c.rsLister.GetPodReplicaSets(pod)
	if err != nil {
		return
	}
	for _, rs := range rss {
		c.enqueue(rs)
	}
}

// podKey returns the "namespace/name" key expectations track pods by.
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}
