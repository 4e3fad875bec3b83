package deployment

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// syncRolloutStatus updates d's status during a rollout, including the
// Progressing condition: NewReplicaSetAvailable once complete,
// ReplicaSetUpdated (with a fresh lastUpdateTime) on progress, and
// ProgressDeadlineExceeded once progressDeadlineSeconds pass without
// progress. ReplicaSet failure conditions are carried over. When nothing
// changes it schedules the next progress check.
func (c *Controller) syncRolloutStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	newStatus := c.calculateStatus(allRSs, newRS, d)
	now := c.clock.Now()

	if !hasProgressDeadline(d) {
		removeCondition(&newStatus, appsv1.DeploymentProgressing)
	}
	current := getCondition(d.Status, appsv1.DeploymentProgressing)
	complete := newStatus.Replicas == newStatus.UpdatedReplicas && current != nil && current.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		subject := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case deploymentComplete(d, &newStatus):
			setCondition(&newStatus, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable, subject+" has successfully progressed.", now))
		case deploymentProgressing(d, &newStatus):
			// Same reason, but lastUpdateTime must move: replace the condition,
			// keeping lastTransitionTime while it stays True.
			cond := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonReplicaSetUpdated, subject+" is progressing.", now)
			if current != nil {
				if current.Status == corev1.ConditionTrue {
					cond.LastTransitionTime = current.LastTransitionTime
				}
				removeCondition(&newStatus, appsv1.DeploymentProgressing)
			}
			setCondition(&newStatus, cond)
		case deploymentTimedOut(d, &newStatus, now):
			setCondition(&newStatus, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, subject+" has timed out progressing.", now))
		}
	}

	if failures := replicaFailures(allRSs, newRS); len(failures) > 0 {
		setCondition(&newStatus, failures[0])
	} else {
		removeCondition(&newStatus, appsv1.DeploymentReplicaFailure)
	}

	if reflect.DeepEqual(d.Status, newStatus) {
		c.requeueStuckDeployment(ctx, d, newStatus, now)
		return nil
	}
	d.Status = newStatus
	return c.updateStatus(ctx, d)
}

// replicaFailures returns the ReplicaFailure conditions of the new
// ReplicaSet, or else of any ReplicaSet, as Deployment conditions.
func replicaFailures(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []appsv1.DeploymentCondition {
	collect := func(rs *appsv1.ReplicaSet, out []appsv1.DeploymentCondition) []appsv1.DeploymentCondition {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure {
				out = append(out, fromReplicaSetCondition(c))
			}
		}
		return out
	}
	var conds []appsv1.DeploymentCondition
	if newRS != nil {
		if conds = collect(newRS, conds); len(conds) > 0 {
			return conds
		}
	}
	for _, rs := range allRSs {
		if rs != nil {
			conds = collect(rs, conds)
		}
	}
	return conds
}

// requeueStuckDeployment schedules a progress check for a rollout that shows
// no progress, at the moment its deadline would expire. It returns the delay,
// 0 for an immediate (rate-limited) requeue, or -1 when no check is needed.
func (c *Controller) requeueStuckDeployment(ctx context.Context, d *appsv1.Deployment, newStatus appsv1.DeploymentStatus, now time.Time) time.Duration {
	current := getCondition(d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || current == nil {
		return -1
	}
	if deploymentComplete(d, &newStatus) || current.Reason == ReasonTimedOut {
		return -1
	}
	key, err := cache.MetaNamespaceKeyFunc(d)
	if err != nil {
		return -1
	}
	after := current.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(now)
	if after < time.Second {
		klog.FromContext(ctx).V(4).Info("Queueing up deployment for a progress check now", "deployment", klog.KObj(d))
		c.enqueueRateLimited(key)
		return 0
	}
	klog.FromContext(ctx).V(4).Info("Queueing up deployment for a progress check", "deployment", klog.KObj(d), "after", after)
	// One more second absorbs sub-second skew in delayed requeues.
	c.enqueueAfter(key, after+time.Second)
	return after
}
