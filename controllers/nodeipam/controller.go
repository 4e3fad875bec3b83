package nodeipam

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Options configure the allocator.
type Options struct {
	// ClusterCIDR is the pod network that node blocks are cut from.
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the prefix length of each node's block.
	NodeMaskSize int
}

// DefaultOptions returns Kubernetes' usual pod network: 10.244.0.0/16 in /24 blocks (256 nodes
// of up to 254 pods).
func DefaultOptions() Options {
	return Options{ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), NodeMaskSize: 24}
}

// Validate checks that the blocks fit in the cluster CIDR and leave room for pods.
func (o Options) Validate() error {
	if !o.ClusterCIDR.IsValid() {
		return errors.New("cluster CIDR is not set")
	}
	bits := o.ClusterCIDR.Addr().BitLen()
	if o.NodeMaskSize < o.ClusterCIDR.Bits() || o.NodeMaskSize > bits-2 {
		return fmt.Errorf("node CIDR mask size %d must be between the cluster CIDR's %d and %d", o.NodeMaskSize, o.ClusterCIDR.Bits(), bits-2)
	}
	if o.NodeMaskSize-o.ClusterCIDR.Bits() > 20 {
		return fmt.Errorf("node CIDR mask size %d cuts %s into more than 2^20 blocks", o.NodeMaskSize, o.ClusterCIDR)
	}
	return nil
}

// blocks is how many node blocks the cluster CIDR holds.
func (o Options) blocks() int { return 1 << (o.NodeMaskSize - o.ClusterCIDR.Bits()) }

// block returns the i-th node block.
func (o Options) block(i int) netip.Prefix {
	base := o.ClusterCIDR.Masked().Addr()
	n := new(big.Int).SetBytes(base.AsSlice())
	n.Add(n, new(big.Int).Lsh(big.NewInt(int64(i)), uint(base.BitLen()-o.NodeMaskSize)))
	b := n.FillBytes(make([]byte, len(base.AsSlice())))
	addr, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(addr, o.NodeMaskSize)
}

// Controller assigns spec.podCIDR and spec.podCIDRs to Nodes that have none. Create it with
// NewController before the informers start, then call Run once.
type Controller struct {
	client   kubernetes.Interface
	lister   corelisters.NodeLister
	recorder record.EventRecorder
	opts     Options
	queue    workqueue.TypedRateLimitingInterface[string]
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration

	mu sync.Mutex // protects assigned
	// assigned maps blocks this controller wrote to the UID of their node, until the cache
	// shows the block on the node or no longer holds the node.
	assigned map[netip.Prefix]types.UID
}

// NewController returns an allocator that reads Nodes from informer and writes them through
// client. opts must be valid.
func NewController(client kubernetes.Interface, informer coreinformers.NodeInformer, recorder record.EventRecorder, opts Options) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client: client, lister: informer.Lister(), recorder: recorder, opts: opts, informer: informer.Informer(),
		assigned: map[netip.Prefix]types.UID{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"},
		),
	}
	handle, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam: adding event handler: %w", err)
	}
	c.handle = handle
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// Run waits for the cache, then assigns blocks with one worker until ctx ends (one worker keeps
// the choice of a free block race-free). When it returns the queue is shut down, the worker has
// exited and the event handler is removed.
func (c *Controller) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("controller", "nodeipam")
	logger.Info("Starting controller", "clusterCIDR", c.opts.ClusterCIDR, "nodeMaskSize", c.opts.NodeMaskSize)
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		wg.Wait()
		if err := c.informer.RemoveEventHandler(c.handle); err != nil {
			logger.Error(err, "Removing event handler")
		}
		logger.Info("Shutting down controller")
	}()
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced, c.handle.HasSynced) {
		return
	}
	ctx = klog.NewContext(ctx, logger)
	wg.Add(1)
	go func() {
		defer wg.Done()
		wait.UntilWithContext(ctx, c.worker, time.Second)
	}()
	<-ctx.Done()
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		if err := c.Sync(ctx, key); err != nil {
			klog.FromContext(ctx).V(2).Info("Error assigning a pod CIDR, requeueing", "node", key, "err", err)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// Sync gives the named node a block when it has none. A deleted node's block becomes free as
// soon as the cache no longer lists the node. Sync must not run concurrently with itself.
func (c *Controller) Sync(ctx context.Context, name string) error {
	node, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(node.Spec.PodCIDRs) > 0 || node.Spec.PodCIDR != "" {
		return nil
	}
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	block, err := c.free(nodes)
	if err != nil {
		c.recorder.Eventf(node, corev1.EventTypeWarning, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable", name)
		return err
	}
	update := node.DeepCopy()
	update.Spec.PodCIDR = block.String()
	update.Spec.PodCIDRs = []string{block.String()}
	if _, err := c.client.CoreV1().Nodes().Update(ctx, update, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("assigning pod CIDR %s to node %s: %w", block, name, err)
	}
	c.mu.Lock()
	c.assigned[block] = node.UID
	c.mu.Unlock()
	klog.FromContext(ctx).V(2).Info("Assigned pod CIDR", "node", name, "podCIDR", block)
	c.recorder.Eventf(node, corev1.EventTypeNormal, "CIDRAssignmentSucceeded", "Node %s was assigned pod CIDR %s", name, block)
	return nil
}

// free returns the lowest block no node holds, dropping assignments the cache now shows.
func (c *Controller) free(nodes []*corev1.Node) (netip.Prefix, error) {
	used := map[netip.Prefix]bool{}
	byUID := map[types.UID]*corev1.Node{}
	for _, n := range nodes {
		byUID[n.UID] = n
		for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
			if p, err := netip.ParsePrefix(s); err == nil {
				used[p.Masked()] = true
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for block, uid := range c.assigned {
		if n, ok := byUID[uid]; !ok || n.Spec.PodCIDR != "" {
			delete(c.assigned, block) // the cache shows the block, or the node is gone
			continue
		}
		used[block] = true
	}
	for i := range c.opts.blocks() {
		if b := c.opts.block(i); !used[b] {
			return b, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%w %s (/%d blocks)", ErrFull, c.opts.ClusterCIDR, c.opts.NodeMaskSize)
}
