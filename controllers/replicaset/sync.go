package replicaset

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/capstan-io/capstan/controllers/internal/ownership"
	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// slowStartInitialBatch is the size of the first batch of pod creations.
const slowStartInitialBatch = 1

// Sync reconciles the ReplicaSet with the given "namespace/name" key: it
// claims pods, creates or deletes pods when the ReplicaSet's expectations are
// satisfied, and writes the status. A ReplicaSet that no longer exists is not
// an error. Sync must not run concurrently for the same key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	logger := klog.FromContext(ctx)
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		logger.Error(err, "Dropping malformed key", "key", key)
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}

	needsSync := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// An invalid selector is the user's to fix; retrying cannot help.
		logger.Error(err, "Invalid selector", "replicaSet", klog.KObj(rs))
		return nil
	}

	// Every pod rs controls, matching or not (those whose labels no longer
	// match are released), and every orphan (adopted when it matches).
	all, err := c.claimCandidates(namespace, rs.UID)
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rs, selector, podstate.FilterActive(all))
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, pods, rs)
	}

	now := c.clock.Now()
	rs = rs.DeepCopy()
	updated, err := c.updateStatus(ctx, rs, calculateStatus(rs, pods, manageErr, now))
	if err != nil {
		return err
	}
	// Come back when the next ready pod becomes available, so that
	// availableReplicas does not wait for an unrelated event.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 {
		if d, ok := nextAvailable(pods, updated.Spec.MinReadySeconds, now); ok {
			c.enqueueAfter(key, d)
		}
	}
	return manageErr
}

// claimPods adopts and releases pods for rs and returns the active pods it
// controls.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	recheck := ownership.RecheckOwner(rs.UID, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	})
	claimer := ownership.NewClaimer(rs, controllerKind, selector, recheck, c.pods.patch)
	return ownership.ClaimAll(ctx, claimer, pods)
}

// manageReplicas creates or deletes pods so that rs has spec.replicas active
// pods, at most c.burst per call. It does not modify pods' elements.
func (c *Controller) manageReplicas(ctx context.Context, key string, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	logger := klog.FromContext(ctx)
	diff := len(pods) - int(specReplicas(rs))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		// Expect the creations before issuing them: the informer may see a
		// pod before Create even returns.
		c.expectations.ExpectCreations(key, n)
		logger.V(2).Info("Too few replicas", "replicaSet", klog.KObj(rs), "need", specReplicas(rs), "creating", n)
		created, err := slowStartBatch(n, slowStartInitialBatch, func() error {
			err := c.pods.create(ctx, rs)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // every create will fail; nothing to retry
			}
			return err
		})
		// The informer will never see the pods that were not created.
		for range n - created {
			c.expectations.CreationObserved(key)
		}
		return err

	case diff > 0:
		n := min(diff, c.burst)
		logger.V(2).Info("Too many replicas", "replicaSet", klog.KObj(rs), "need", specReplicas(rs), "deleting", n)
		related, err := c.relatedPods(rs)
		if err != nil {
			return err
		}
		victims := podsToDelete(append([]*corev1.Pod(nil), pods...), related, n, c.clock.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podKey(p)
		}
		c.expectations.ExpectDeletions(key, keys)

		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, pod := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.pods.delete(ctx, rs, pod); err != nil {
					// The informer will never see this deletion.
					c.expectations.DeletionObserved(key, podKey(pod))
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err // they are likely all the same; report the first
			}
		}
	}
	return nil
}

// relatedPods returns the pods that count for co-location ranking: those of
// every ReplicaSet controlled by rs's controller (the Deployment's old and new
// ReplicaSets), or rs's own when it has no controller.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	siblings := []*appsv1.ReplicaSet{rs}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		all, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
		if err != nil {
			return nil, err
		}
		siblings = siblings[:0]
		for _, other := range all {
			if o := metav1.GetControllerOfNoCopy(other); o != nil && o.UID == ref.UID {
				siblings = append(siblings, other)
			}
		}
	}
	seen := make(map[types.UID]bool)
	var related []*corev1.Pod
	for _, sib := range siblings {
		selector, err := metav1.LabelSelectorAsSelector(sib.Spec.Selector)
		if err != nil {
			continue // an invalid selector matches nothing
		}
		pods, err := c.podLister.Pods(sib.Namespace).List(selector)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				related = append(related, p)
			}
		}
	}
	return related, nil
}

// slowStartBatch calls fn count times in batches that start at initial and
// double after each fully successful batch; calls within a batch run
// concurrently. After a batch with failures no further batch starts. It
// returns the number of successful calls and the first error.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn()
			}()
		}
		wg.Wait()
		failed := 0
		var first error
		for _, err := range errs {
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
			}
		}
		successes += batch - failed
		if first != nil {
			return successes, first
		}
		remaining -= batch
	}
	return successes, nil
}

// nextAvailable returns how long until the first of pods that is ready but
// not yet available becomes available.
func nextAvailable(pods []*corev1.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	var next time.Duration
	found := false
	for _, p := range pods {
		if d, ok := podstate.UntilAvailable(p, minReadySeconds, now); ok && (!found || d < next) {
			next, found = d, true
		}
	}
	return next, found
}

// specReplicas returns rs's desired replicas; the API defaults a missing
// value to 1.
func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// statusUpdateRetries is how many times a failed status update is retried
// with a freshly read ReplicaSet.
const statusUpdateRetries = 1

// updateStatus writes newStatus to rs unless nothing changed, retrying once
// on a freshly read copy. It returns the ReplicaSet as stored.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, newStatus appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if statusEqual(rs.Status, newStatus) && rs.Generation == rs.Status.ObservedGeneration {
		return rs, nil
	}
	newStatus.ObservedGeneration = rs.Generation
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	cur := rs
	for i := 0; ; i++ {
		cur.Status = newStatus
		updated, err := client.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			return updated, nil
		}
		if i >= statusUpdateRetries || apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("updating status of ReplicaSet %s/%s: %w", rs.Namespace, rs.Name, err)
		}
		if cur, err = client.Get(ctx, rs.Name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
}
