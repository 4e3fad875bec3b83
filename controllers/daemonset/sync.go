package daemonset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/capstan-io/capstan/controllers/internal/history"
	"github.com/capstan-io/capstan/controllers/internal/ownership"
	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// slowStartInitialBatch is the size of the first batch of pod creations.
const slowStartInitialBatch = 1

// Sync reconciles the DaemonSet with the given "namespace/name" key: it
// records the current template as a ControllerRevision, claims pods, creates
// and deletes daemon pods node by node when the DaemonSet's expectations are
// satisfied, rolls out a new template, truncates the revision history and
// writes the status. A DaemonSet that no longer exists, or is being deleted,
// is not an error. Sync must not run concurrently for the same key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	logger := klog.FromContext(ctx)
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		logger.Error(err, "Dropping malformed key", "key", key)
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.creations.Delete(key)
		c.deletions.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	if ds.DeletionTimestamp != nil {
		// The garbage collector removes the pods; nothing to reconcile.
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || selector.Empty() {
		// An invalid or empty selector is the user's to fix; retrying cannot help.
		logger.Error(err, "Invalid or empty selector", "daemonSet", klog.KObj(ds))
		return nil
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}

	cur, old, err := c.constructHistory(ctx, ds, selector)
	if errors.Is(err, history.ErrHashCollision) {
		return c.bumpCollisionCount(ctx, ds, err)
	}
	if err != nil {
		return err
	}
	hash := cur.Labels[appsv1.ControllerRevisionHashLabelKey]

	nodeToPods, err := c.nodesToDaemonPods(ctx, ds, selector)
	if err != nil {
		return err
	}
	if !c.satisfied(key) {
		// Pods created or deleted by an earlier sync are not all in the cache
		// yet: acting now could double them. Only report.
		return c.updateStatus(ctx, key, ds, nodes, nodeToPods, hash, false)
	}

	if err := c.manage(ctx, key, ds, nodes, nodeToPods, hash); err != nil {
		return err
	}
	// manage set expectations when it acted; roll out only on a quiet sync.
	if c.satisfied(key) && ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		if err := c.rollingUpdate(ctx, key, ds, nodes, nodeToPods, hash); err != nil {
			return err
		}
	}
	if err := c.cleanupHistory(ctx, ds, old, nodeToPods); err != nil {
		return err
	}
	return c.updateStatus(ctx, key, ds, nodes, nodeToPods, hash, true)
}

// satisfied reports whether every pod creation and deletion issued for key
// has been observed (or has expired).
func (c *Controller) satisfied(key string) bool {
	return c.creations.Satisfied(key) && c.deletions.Satisfied(key)
}

// nodesToDaemonPods claims pods for ds (adopting matching orphans, releasing
// owned pods that no longer match) and returns the pods it controls by the
// node they are for, oldest first. Pods that are both terminal and being
// deleted are left out; pods pinned to no node are ignored.
func (c *Controller) nodesToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) (map[string][]*corev1.Pod, error) {
	all, err := c.claimCandidates(ds.Namespace, ds.UID)
	if err != nil {
		return nil, err
	}
	candidates := all[:0:0]
	for _, p := range all {
		terminal := p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
		if !(terminal && p.DeletionTimestamp != nil) {
			candidates = append(candidates, p)
		}
	}
	claimer := ownership.NewClaimer(ds, controllerKind, selector, c.recheck(ds), c.pods.patch)
	pods, err := ownership.ClaimAll(ctx, claimer, candidates)
	if err != nil {
		return nil, fmt.Errorf("claiming pods of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	out := make(map[string][]*corev1.Pod)
	for _, p := range pods {
		if node := targetNode(p); node != "" {
			out[node] = append(out[node], p)
		}
	}
	for _, ps := range out {
		sortOldestFirst(ps)
	}
	return out, nil
}

// claimCandidates returns the pods ds may control: those whose controller
// reference names it and the orphans of its namespace. Without the index it
// falls back to every pod of the namespace.
func (c *Controller) claimCandidates(namespace string, uid types.UID) ([]*corev1.Pod, error) {
	if c.podIndex == nil {
		return c.podLister.Pods(namespace).List(labels.Everything())
	}
	owned, err := c.podIndex.Controlled(namespace, uid)
	if err != nil {
		return nil, err
	}
	orphans, err := c.podIndex.Controlled(namespace, "")
	if err != nil {
		return nil, err
	}
	return append(owned, orphans...), nil
}

// recheck returns the uncached check Claimer runs before adopting for ds.
func (c *Controller) recheck(ds *appsv1.DaemonSet) ownership.RecheckFunc {
	return ownership.RecheckOwner(ds.UID, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	})
}

// manage decides, node by node, which daemon pods to create and delete, and
// issues those changes.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string) error {
	var create []string
	var remove []*corev1.Pod
	known := make(map[string]bool, len(nodes))
	for _, node := range nodes {
		known[node.Name] = true
		need, del := c.podsShouldBeOnNode(ctx, key, ds, node, nodeToPods[node.Name], hash)
		if need {
			create = append(create, node.Name)
		}
		remove = append(remove, del...)
	}
	// Pods the scheduler has not bound yet, for nodes that are gone, can never
	// run: delete them. Bound pods of deleted nodes are the pod GC's.
	for _, name := range sortedKeys(nodeToPods) {
		if known[name] {
			continue
		}
		for _, p := range nodeToPods[name] {
			if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
				remove = append(remove, p)
			}
		}
	}
	return c.syncNodes(ctx, key, ds, remove, create, hash)
}

// podsShouldBeOnNode reports whether ds needs a new pod on node and which of
// its pods there (pods, oldest first) to delete: all of them when the node
// should not keep them; failed ones (with a per-node back-off) and succeeded
// ones otherwise; and duplicates, keeping the oldest (with maxSurge, the
// oldest old pod stays beside the oldest new one until the new one is ready).
func (c *Controller) podsShouldBeOnNode(ctx context.Context, key string, ds *appsv1.DaemonSet, node *corev1.Node, pods []*corev1.Pod, hash string) (bool, []*corev1.Pod) {
	d := shouldRunOn(node, ds)
	switch {
	case d.run && len(pods) == 0:
		return true, nil
	case !d.keep:
		var remove []*corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				remove = append(remove, p)
			}
		}
		return false, remove
	}

	var remove, running []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		switch p.Status.Phase {
		case corev1.PodFailed:
			// The kubelet may keep rejecting the pod: space the replacements out.
			backoffKey := string(ds.UID) + "/" + node.Name
			now := c.clock.Now()
			if c.failedBackoff.IsInBackOffSinceUpdate(backoffKey, now) {
				c.enqueueAfter(key, c.failedBackoff.Get(backoffKey))
				continue
			}
			c.failedBackoff.Next(backoffKey, now)
			c.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedDaemonPod,
				"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
			remove = append(remove, p)
		case corev1.PodSucceeded:
			remove = append(remove, p)
		default:
			running = append(running, p)
		}
	}
	if len(running) <= 1 {
		return false, remove
	}
	if surge(ds) == nil {
		// Keep the oldest.
		return false, append(remove, running[1:]...)
	}
	// With surge, an old and a new pod may share the node while the new one
	// becomes ready; every other pod goes.
	var oldestNew, oldestOld *corev1.Pod
	for _, p := range running {
		if isUpdated(p, ds, hash) {
			if oldestNew == nil {
				oldestNew = p
				continue
			}
		} else if oldestOld == nil {
			oldestOld = p
			continue
		}
		remove = append(remove, p)
	}
	if oldestNew != nil && oldestOld != nil && (!podstate.IsReady(oldestOld) || podstate.IsAvailable(oldestNew, ds.Spec.MinReadySeconds, c.clock.Now())) {
		remove = append(remove, oldestOld)
	}
	return false, remove
}

// syncNodes deletes the given pods and creates a pod on each of the given
// nodes (at most c.burst), setting expectations first so that the informer's
// view of these writes is awaited before the next decision.
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, remove []*corev1.Pod, create []string, hash string) error {
	if len(create) > c.burst {
		create = create[:c.burst]
	}
	keys := make([]string, len(remove))
	for i, p := range remove {
		keys[i] = podKey(p)
	}
	c.creations.ExpectCreations(key, len(create))
	c.deletions.ExpectDeletions(key, keys)
	if len(create) > 0 || len(remove) > 0 {
		klog.FromContext(ctx).V(2).Info("Syncing daemon pods", "daemonSet", klog.KObj(ds), "creating", len(create), "deleting", len(remove))
	}

	created, createErr := slowStartBatch(len(create), slowStartInitialBatch, func(i int) error {
		err := c.pods.create(ctx, ds, create[i], hash)
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // every create will fail; nothing to retry
		}
		return err
	})
	// The informer will never see the pods that were not created.
	for range len(create) - created {
		c.creations.CreationObserved(key)
	}

	errs := make([]error, len(remove))
	var wg sync.WaitGroup
	for i, pod := range remove {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.pods.delete(ctx, ds, pod); err != nil {
				// The informer will never see this deletion.
				c.deletions.DeletionObserved(key, podKey(pod))
				if !apierrors.IsNotFound(err) {
					errs[i] = fmt.Errorf("deleting pod %s: %w", podKey(pod), err)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(append([]error{createErr}, errs...)...)
}

// slowStartBatch calls fn(0), ..., fn(count-1) in batches that start at
// initial and double after each fully successful batch; calls within a batch
// run concurrently. After a batch with failures no further batch starts. It
// returns the number of successful calls and the first error.
func slowStartBatch(count, initial int, fn func(i int) error) (int, error) {
	next, successes := 0, 0
	for batch := min(count, initial); batch > 0; batch = min(2*batch, count-next) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for j := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = fn(next + j)
			}()
		}
		wg.Wait()
		next += batch
		var first error
		for _, err := range errs {
			if err == nil {
				successes++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return successes, first
		}
	}
	return successes, nil
}

// bumpCollisionCount raises ds's status.collisionCount after a revision name
// collision, so that the next sync hashes the template differently, and
// returns cause so that the key is retried.
func (c *Controller) bumpCollisionCount(ctx context.Context, ds *appsv1.DaemonSet, cause error) error {
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	fresh, err := client.Get(ctx, ds.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading DaemonSet %s/%s after %v: %w", ds.Namespace, ds.Name, cause, err)
	}
	if fresh.UID != ds.UID {
		return nil
	}
	n := int32(0)
	if fresh.Status.CollisionCount != nil {
		n = *fresh.Status.CollisionCount
	}
	n++
	fresh.Status.CollisionCount = &n
	if _, err := client.UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("bumping collisionCount of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return cause
}

// sortOldestFirst sorts pods by creation time, then name.
func sortOldestFirst(pods []*corev1.Pod) {
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// sortedKeys returns m's keys in increasing order.
func sortedKeys(m map[string][]*corev1.Pod) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
