package daemonset

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
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
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/controllers/internal/history"
	"github.com/capstan-io/capstan/controllers/internal/ownership"
)

const (
	// DefaultBurstReplicas is the most pods one sync of one DaemonSet creates,
	// as in Kubernetes; the rest waits for the next sync.
	DefaultBurstReplicas = 250
	// FailedPodBackoffInitial is the first delay before a failed daemon pod on
	// a node is deleted again; it doubles up to FailedPodBackoffMax.
	FailedPodBackoffInitial = time.Second
	// FailedPodBackoffMax is the longest delay between two deletions of a
	// failed daemon pod on the same node.
	FailedPodBackoffMax = 15 * time.Minute
	// backoffGCInterval is how often expired back-off entries are dropped.
	backoffGCInterval = time.Minute
)

// controllerKind is the kind written into the ownerReferences of daemon pods
// and ControllerRevisions.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller reconciles DaemonSets with their pods and ControllerRevisions.
// Create it with NewController before the informers start, then call Run once.
type Controller struct {
	dsLister      appslisters.DaemonSetLister
	historyLister appslisters.ControllerRevisionLister
	podLister     corelisters.PodLister
	nodeLister    corelisters.NodeLister
	// podIndex finds a DaemonSet's pods; nil when the index could not be added,
	// and syncs then read every pod of the namespace.
	podIndex *ownership.PodIndex
	client   kubernetes.Interface
	pods     podControl
	history  *history.Store
	recorder record.EventRecorder
	// creations and deletions are the expectations of pod creations and pod
	// deletions; they are separate because one sync may issue both.
	creations *ownership.Expectations
	deletions *ownership.Expectations
	// failedBackoff spaces out the replacement of failed pods per DaemonSet
	// and node; it is safe for concurrent use.
	failedBackoff *flowcontrol.Backoff
	queue         workqueue.TypedRateLimitingInterface[string]
	clock         clock.WithTicker
	burst         int

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

// WithClock makes the Controller read time (pod availability, failed-pod
// back-off, expectation expiry, delayed requeues) from clk instead of the wall
// clock.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// WithBurstReplicas caps the pods created for one DaemonSet in one sync at n
// (DefaultBurstReplicas when n is not positive).
func WithBurstReplicas(n int) Option {
	return func(o *options) { o.burst = n }
}

// NewController returns a DaemonSet controller that writes through client,
// reads DaemonSets, ControllerRevisions, pods and nodes from the given
// informers and records events with recorder. It registers event handlers on
// all four informers; Run removes them when it returns.
func NewController(client kubernetes.Interface, dsInformer appsinformers.DaemonSetInformer, historyInformer appsinformers.ControllerRevisionInformer, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, recorder record.EventRecorder, opts ...Option) *Controller {
	o := options{clock: clock.RealClock{}, burst: DefaultBurstReplicas}
	for _, opt := range opts {
		opt(&o)
	}
	if o.burst <= 0 {
		o.burst = DefaultBurstReplicas
	}
	backoff := flowcontrol.NewBackOff(FailedPodBackoffInitial, FailedPodBackoffMax)
	backoff.Clock = o.clock
	c := &Controller{
		dsLister:      dsInformer.Lister(),
		historyLister: historyInformer.Lister(),
		podLister:     podInformer.Lister(),
		nodeLister:    nodeInformer.Lister(),
		client:        client,
		pods:          podControl{client: client, recorder: recorder},
		history:       history.NewStore(client.AppsV1()),
		recorder:      recorder,
		creations:     ownership.NewExpectations(o.clock),
		deletions:     ownership.NewExpectations(o.clock),
		failedBackoff: backoff,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset", Clock: o.clock},
		),
		clock: o.clock,
		burst: o.burst,
	}
	c.enqueueAfter = c.queue.AddAfter
	if idx, err := ownership.NewPodIndex(podInformer.Informer()); err != nil {
		utilruntime.HandleError(fmt.Errorf("daemonset: %w", err))
	} else {
		c.podIndex = idx
	}
	c.addHandler(dsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addDaemonSet,
		UpdateFunc: c.updateDaemonSet,
		DeleteFunc: c.deleteDaemonSet,
	})
	c.addHandler(historyInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addHistory,
		UpdateFunc: func(_, cur any) { c.addHistory(cur) },
		DeleteFunc: c.deleteHistory,
	})
	c.addHandler(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	c.addHandler(nodeInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addNode,
		UpdateFunc: c.updateNode,
		DeleteFunc: c.deleteNode,
	})
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("daemonset: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes keys with workers
// goroutines (and drops expired failed-pod back-off entries from one more)
// until ctx is done. When it returns, the queue is shut down, every goroutine
// it started has exited and the event handlers are removed. Run must be
// called at most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "daemonset")
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
		wait.UntilWithContext(ctx, func(context.Context) { c.failedBackoff.GC() }, backoffGCInterval)
	}()
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
		klog.FromContext(ctx).V(2).Info("Error syncing DaemonSet, requeueing", "key", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// enqueue adds ds's key to the queue.
func (c *Controller) enqueue(ds *appsv1.DaemonSet) {
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// resolveControllerRef returns the DaemonSet ref points to, or nil when ref
// is not a DaemonSet reference or names a DaemonSet that no longer exists
// under that UID.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}
