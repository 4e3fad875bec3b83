package replicaset

import (
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// ReplicaFailure condition reasons.
const (
	// ReasonConditionFailedCreate marks a ReplicaFailure caused by pod creation.
	ReasonConditionFailedCreate = "FailedCreate"
	// ReasonConditionFailedDelete marks a ReplicaFailure caused by pod deletion.
	ReasonConditionFailedDelete = "FailedDelete"
)

// calculateStatus returns rs's status given the active pods it controls and
// the error, if any, of this sync's creations or deletions. observedGeneration
// is left to updateStatus.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fullyLabeled, ready, available int32
	for _, p := range pods {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fullyLabeled++
		}
		if podstate.IsReady(p) {
			ready++
			if podstate.IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}

	failure := replicaSetCondition(rs.Status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(pods) - int(specReplicas(rs)); diff < 0 {
			reason = ReasonConditionFailedCreate
		} else if diff > 0 {
			reason = ReasonConditionFailedDelete
		}
		setReplicaSetCondition(&status, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		status.Conditions = withoutCondition(status.Conditions, appsv1.ReplicaSetReplicaFailure)
	}

	status.Replicas = int32(len(pods))
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	return status
}

// statusEqual reports whether two statuses agree on everything calculateStatus
// computes (observedGeneration aside).
func statusEqual(a, b appsv1.ReplicaSetStatus) bool {
	return a.Replicas == b.Replicas &&
		a.FullyLabeledReplicas == b.FullyLabeledReplicas &&
		a.ReadyReplicas == b.ReadyReplicas &&
		a.AvailableReplicas == b.AvailableReplicas &&
		reflect.DeepEqual(a.Conditions, b.Conditions)
}

// replicaSetCondition returns a copy of status's condition of type t, or nil.
func replicaSetCondition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			c := status.Conditions[i]
			return &c
		}
	}
	return nil
}

// setReplicaSetCondition adds or replaces cond in status, unless a condition
// of the same type, status and reason is already there.
func setReplicaSetCondition(status *appsv1.ReplicaSetStatus, cond appsv1.ReplicaSetCondition) {
	if cur := replicaSetCondition(*status, cond.Type); cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	status.Conditions = append(withoutCondition(status.Conditions, cond.Type), cond)
}

// withoutCondition returns conds without those of type t.
func withoutCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}
