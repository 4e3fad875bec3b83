package daemonset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// statusUpdateRetries is how many times a failed status update is retried
// with a freshly read DaemonSet.
const statusUpdateRetries = 1

// calculateStatus returns ds's status counts given its nodes and pods by
// node, and how long until the next ready pod becomes available (ok false
// when none is waiting). On each node that should run a pod, the oldest pod
// is the one counted as ready, available and updated.
func calculateStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string, now time.Time) (status appsv1.DaemonSetStatus, next time.Duration, ok bool) {
	status = *ds.Status.DeepCopy()
	var desired, current, misscheduled, ready, available, updated int32
	for _, node := range nodes {
		pods := nodeToPods[node.Name]
		if !shouldRunOn(node, ds).run {
			if len(pods) > 0 {
				misscheduled++
			}
			continue
		}
		desired++
		if len(pods) == 0 {
			continue
		}
		current++
		pod := pods[0]
		if podstate.IsReady(pod) {
			ready++
			if podstate.IsAvailable(pod, ds.Spec.MinReadySeconds, now) {
				available++
			} else if d, waiting := podstate.UntilAvailable(pod, ds.Spec.MinReadySeconds, now); waiting && (!ok || d < next) {
				next, ok = d, true
			}
		}
		if isUpdated(pod, ds, hash) {
			updated++
		}
	}
	status.DesiredNumberScheduled = desired
	status.CurrentNumberScheduled = current
	status.NumberMisscheduled = misscheduled
	status.NumberReady = ready
	status.NumberAvailable = available
	status.UpdatedNumberScheduled = updated
	status.NumberUnavailable = max(desired-available, 0)
	return status, next, ok
}

// updateStatus computes ds's status and writes it through the status
// subresource when it changed; with observe it also sets
// observedGeneration. It requeues key for when the next ready pod becomes
// available.
func (c *Controller) updateStatus(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string, observe bool) error {
	status, next, waiting := calculateStatus(ds, nodes, nodeToPods, hash, c.clock.Now())
	if observe {
		status.ObservedGeneration = ds.Generation
	}
	if err := c.writeStatus(ctx, ds, status); err != nil {
		return err
	}
	if waiting {
		c.enqueueAfter(key, next)
	}
	return nil
}

// writeStatus writes status to ds unless nothing changed, retrying once on a
// freshly read copy.
func (c *Controller) writeStatus(ctx context.Context, ds *appsv1.DaemonSet, status appsv1.DaemonSetStatus) error {
	if statusEqual(ds.Status, status) {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	cur := ds.DeepCopy()
	for i := 0; ; i++ {
		cur.Status = status
		_, err := client.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if i >= statusUpdateRetries || apierrors.IsNotFound(err) {
			return fmt.Errorf("updating status of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		fresh, getErr := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("reading DaemonSet %s/%s: %w", ds.Namespace, ds.Name, getErr)
		}
		// Keep what others own in the status (collisionCount, conditions).
		status.CollisionCount = fresh.Status.CollisionCount
		status.Conditions = fresh.Status.Conditions
		cur = fresh
	}
}

// statusEqual reports whether two statuses agree on everything the
// controller writes.
func statusEqual(a, b appsv1.DaemonSetStatus) bool {
	return a.DesiredNumberScheduled == b.DesiredNumberScheduled &&
		a.CurrentNumberScheduled == b.CurrentNumberScheduled &&
		a.NumberMisscheduled == b.NumberMisscheduled &&
		a.NumberReady == b.NumberReady &&
		a.UpdatedNumberScheduled == b.UpdatedNumberScheduled &&
		a.NumberAvailable == b.NumberAvailable &&
		a.NumberUnavailable == b.NumberUnavailable &&
		a.ObservedGeneration == b.ObservedGeneration
}
