package serviceaccount

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// DefaultServiceAccountName is the name of the service account every active
// namespace has.
const DefaultServiceAccountName = "default"

// Controller ensures that every active namespace has its default service
// account. Create it with NewController before the informers start, then
// call Run once.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	queue    workqueue.TypedRateLimitingInterface[string]

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
}

// registration is one event handler added to one shared informer.
type registration struct {
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration
}

// NewController returns a service account controller that creates service
// accounts through client and reads namespaces and service accounts from the
// given informers. It registers event handlers on both; Run removes them when
// it returns.
func NewController(client kubernetes.Interface, nsInformer coreinformers.NamespaceInformer, saInformer coreinformers.ServiceAccountInformer) *Controller {
	c := &Controller{
		client:   client,
		nsLister: nsInformer.Lister(),
		saLister: saInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"},
		),
	}
	c.addHandler(nsInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
	})
	c.addHandler(saInformer.Informer(), cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.serviceAccountDeleted,
	})
	return c
}

// addHandler registers h on informer and remembers the registration.
func (c *Controller) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("serviceaccount: adding event handler: %w", err))
		return
	}
	c.handlers = append(c.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then processes namespaces with
// workers goroutines until ctx is done. When it returns, the queue is shut
// down, every worker has exited and the event handlers are removed. Run must
// be called at most once.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "serviceaccount")
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

// processNextWorkItem syncs one namespace; failures are requeued with rate
// limiting.
func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.Sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(2).Info("Error syncing service accounts, requeueing", "namespace", key, "err", err)
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

// serviceAccountDeleted enqueues the namespace of a deleted default service
// account.
func (c *Controller) serviceAccountDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok || sa.Name != DefaultServiceAccountName {
		return
	}
	c.queue.Add(sa.Namespace)
}

// Sync ensures that the namespace with the given name has its default
// service account when it is active. A namespace that no longer exists or is
// terminating is not an error. Sync must not run concurrently for the same
// name.
func (c *Controller) Sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	switch _, err := c.saLister.ServiceAccounts(name).Get(DefaultServiceAccountName); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceAccountName, Namespace: name}}
	_, err = c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil:
		klog.FromContext(ctx).V(2).Info("Created service account", "serviceAccount", klog.KObj(sa))
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil // the cache is behind; the informer will show it
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil // the namespace started terminating meanwhile
	default:
		return fmt.Errorf("creating service account %s/%s: %w", name, DefaultServiceAccountName, err)
	}
}
