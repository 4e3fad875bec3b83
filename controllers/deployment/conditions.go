package deployment

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, as in Kubernetes; kubectl rollout status looks for
// ReasonTimedOut.
const (
	// ReasonReplicaSetUpdated: the rollout made progress.
	ReasonReplicaSetUpdated = "ReplicaSetUpdated"
	// ReasonFailedRSCreate: the new ReplicaSet could not be created.
	ReasonFailedRSCreate = "ReplicaSetCreateError"
	// ReasonNewReplicaSet: the new ReplicaSet was created.
	ReasonNewReplicaSet = "NewReplicaSetCreated"
	// ReasonFoundNewRS: an existing ReplicaSet already matches the template.
	ReasonFoundNewRS = "FoundNewReplicaSet"
	// ReasonNewRSAvailable: the rollout is complete.
	ReasonNewRSAvailable = "NewReplicaSetAvailable"
	// ReasonTimedOut: no progress within progressDeadlineSeconds.
	ReasonTimedOut = "ProgressDeadlineExceeded"
	// ReasonPaused: the Deployment is paused; progress is not estimated.
	ReasonPaused = "DeploymentPaused"
	// ReasonResumed: the Deployment was resumed; the deadline starts afresh.
	ReasonResumed = "DeploymentResumed"
	// ReasonMinimumReplicasAvailable: Available is True.
	ReasonMinimumReplicasAvailable = "MinimumReplicasAvailable"
	// ReasonMinimumReplicasUnavailable: Available is False.
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
)

// newCondition returns a condition last updated and transitioned at now.
func newCondition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{
		Type: t, Status: status, Reason: reason, Message: message,
		LastUpdateTime: ts, LastTransitionTime: ts,
	}
}

// getCondition returns a copy of status's condition of type t, or nil.
func getCondition(status appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			c := status.Conditions[i]
			return &c
		}
	}
	return nil
}

// setCondition puts cond into status unless a condition of the same type,
// status and reason is already there; a condition whose status does not
// change keeps its lastTransitionTime.
func setCondition(status *appsv1.DeploymentStatus, cond appsv1.DeploymentCondition) {
	cur := getCondition(*status, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	status.Conditions = append(withoutCondition(status.Conditions, cond.Type), cond)
}

// removeCondition drops status's conditions of type t.
func removeCondition(status *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	status.Conditions = withoutCondition(status.Conditions, t)
}

// withoutCondition returns conds without those of type t.
func withoutCondition(conds []appsv1.DeploymentCondition, t appsv1.DeploymentConditionType) []appsv1.DeploymentCondition {
	var out []appsv1.DeploymentCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// fromReplicaSetCondition turns a ReplicaSet condition (ReplicaFailure) into
// a Deployment condition.
func fromReplicaSetCondition(c appsv1.ReplicaSetCondition) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{
		Type: appsv1.DeploymentConditionType(c.Type), Status: c.Status,
		LastTransitionTime: c.LastTransitionTime, LastUpdateTime: c.LastTransitionTime,
		Reason: c.Reason, Message: c.Message,
	}
}

// hasProgressDeadline reports whether d reports ProgressDeadlineExceeded at
// all (a deadline of MaxInt32 means never).
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != maxInt32
}

// hasRevisionHistoryLimit reports whether d's old ReplicaSets are cleaned up
// at all (a limit of MaxInt32 keeps everything).
func hasRevisionHistoryLimit(d *appsv1.Deployment) bool {
	return d.Spec.RevisionHistoryLimit != nil && *d.Spec.RevisionHistoryLimit != maxInt32
}

// maxInt32 is the "unlimited" sentinel of progressDeadlineSeconds and
// revisionHistoryLimit.
const maxInt32 = 1<<31 - 1

// deploymentComplete reports whether every desired replica is updated and
// available, no old replica is left, and the status reflects d's generation.
func deploymentComplete(d *appsv1.Deployment, status *appsv1.DeploymentStatus) bool {
	r := replicasOf(d)
	return status.UpdatedReplicas == r &&
		status.Replicas == r &&
		status.AvailableReplicas == r &&
		status.ObservedGeneration >= d.Generation
}

// deploymentProgressing reports whether status shows progress over d's
// current status: more updated, ready or available replicas, or fewer old ones.
func deploymentProgressing(d *appsv1.Deployment, status *appsv1.DeploymentStatus) bool {
	old := d.Status
	oldOld := old.Replicas - old.UpdatedReplicas
	newOld := status.Replicas - status.UpdatedReplicas
	return status.UpdatedReplicas > old.UpdatedReplicas ||
		newOld < oldOld ||
		status.ReadyReplicas > old.ReadyReplicas ||
		status.AvailableReplicas > old.AvailableReplicas
}

// deploymentTimedOut reports whether d's Progressing condition in status was
// last updated more than progressDeadlineSeconds before now, or already says
// so. A completed rollout never times out.
func deploymentTimedOut(d *appsv1.Deployment, status *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(*status, appsv1.DeploymentProgressing)
	if c == nil {
		return false
	}
	switch c.Reason {
	case ReasonNewRSAvailable:
		return false
	case ReasonTimedOut:
		return true
	}
	deadline := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	return deadline.Before(now)
}
