package namespace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// conditionTypes are the namespace conditions the controller maintains, in
// the order Kubernetes writes them.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okConditions are the False variants of conditionTypes, with Kubernetes'
// reasons and messages.
var okConditions = map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
	corev1.NamespaceDeletionDiscoveryFailure: {Reason: "ResourcesDiscovered", Message: "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {Reason: "ParsedGroupVersions", Message: "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {Reason: "ContentDeleted", Message: "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {Reason: "ContentRemoved", Message: "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {Reason: "ContentHasNoFinalizers", Message: "All content-preserving finalizers finished"},
}

// desiredConditions returns the conditions that describe state: a True
// condition for each problem, the False variant otherwise.
func desiredConditions(state *contentState) map[corev1.NamespaceConditionType]corev1.NamespaceCondition {
	out := make(map[corev1.NamespaceConditionType]corev1.NamespaceCondition, len(conditionTypes))
	for _, t := range conditionTypes {
		ok := okConditions[t]
		ok.Type, ok.Status = t, corev1.ConditionFalse
		out[t] = ok
	}
	if len(state.errs) > 0 {
		msgs := make([]string, len(state.errs))
		for i, err := range state.errs {
			msgs[i] = err.Error()
		}
		sort.Strings(msgs)
		out[corev1.NamespaceDeletionContentFailure] = corev1.NamespaceCondition{
			Type:    corev1.NamespaceDeletionContentFailure,
			Status:  corev1.ConditionTrue,
			Reason:  "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(msgs), strings.Join(msgs, ", ")),
		}
	}
	if len(state.remaining) > 0 {
		var parts []string
		for gvr, n := range state.remaining {
			parts = append(parts, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
		sort.Strings(parts)
		out[corev1.NamespaceContentRemaining] = corev1.NamespaceCondition{
			Type:    corev1.NamespaceContentRemaining,
			Status:  corev1.ConditionTrue,
			Reason:  "SomeResourcesRemain",
			Message: fmt.Sprintf("Some resources are remaining: %s", strings.Join(parts, ", ")),
		}
	}
	if len(state.finalizers) > 0 {
		var parts []string
		for f, n := range state.finalizers {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(parts)
		out[corev1.NamespaceFinalizersRemaining] = corev1.NamespaceCondition{
			Type:    corev1.NamespaceFinalizersRemaining,
			Status:  corev1.ConditionTrue,
			Reason:  "SomeFinalizersRemain",
			Message: fmt.Sprintf("Some content in the namespace has finalizers remaining: %s", strings.Join(parts, ", ")),
		}
	}
	return out
}

// mergeConditions writes want into status, keeping the transition time of a
// condition whose status does not change. It reports whether anything
// changed.
func mergeConditions(status *corev1.NamespaceStatus, want map[corev1.NamespaceConditionType]corev1.NamespaceCondition, now metav1.Time) bool {
	changed := false
	for _, t := range conditionTypes {
		w := want[t]
		i := conditionIndex(status.Conditions, t)
		if i < 0 {
			w.LastTransitionTime = now
			status.Conditions = append(status.Conditions, w)
			changed = true
			continue
		}
		cur := &status.Conditions[i]
		if cur.Status == w.Status && cur.Reason == w.Reason && cur.Message == w.Message {
			continue
		}
		if cur.Status != w.Status {
			cur.LastTransitionTime = now
		}
		cur.Status, cur.Reason, cur.Message = w.Status, w.Reason, w.Message
		changed = true
	}
	return changed
}

// conditionIndex returns the index of the condition of type t, or -1.
func conditionIndex(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}

// updateConditions writes the conditions describing state into ns's status
// when they changed. The update is best effort: a failure is logged and ns
// is returned unchanged. Otherwise it returns the namespace as stored, whose
// resourceVersion the finalize request must carry.
func (c *Controller) updateConditions(ctx context.Context, ns *corev1.Namespace, state *contentState) *corev1.Namespace {
	next := ns.DeepCopy()
	if !mergeConditions(&next.Status, desiredConditions(state), metav1.NewTime(c.clock.Now())) {
		return ns
	}
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Could not update namespace conditions", "namespace", ns.Name, "err", err)
		return ns
	}
	return updated
}
