package placement

import (
	corev1 "k8s.io/api/core/v1"
)

// unschedulableTaint is the taint a toleration must tolerate for a pod to go to a cordoned
// node.
var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// The taints Kubernetes' node lifecycle controller puts on a node that is not ready.
var (
	notReadyTaint    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	unreachableTaint = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
)

// tolerates reports whether any of tolerations tolerates t.
func tolerates(tolerations []corev1.Toleration, t *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(t) {
			return true
		}
	}
	return false
}

// readinessTaint returns the NoSchedule taint that stands for node's readiness: nil when
// its Ready condition is True, unreachable when it is Unknown, not-ready otherwise
// (False, or no Ready condition yet).
func readinessTaint(node *corev1.Node) *corev1.Taint {
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			return nil
		case corev1.ConditionUnknown:
			return &unreachableTaint
		}
		return &notReadyTaint
	}
	return &notReadyTaint
}

// untoleratedTaint returns the first NoSchedule or NoExecute taint of node, its own taints
// first and then the one standing for its readiness, that tolerations do not tolerate, or
// nil.
func untoleratedTaint(node *corev1.Node, tolerations []corev1.Toleration) *corev1.Taint {
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(tolerations, t) {
			return t
		}
	}
	if t := readinessTaint(node); t != nil && !tolerates(tolerations, t) {
		return t
	}
	return nil
}

// untoleratedPreferNoSchedule counts node's PreferNoSchedule taints that none of the pod's
// tolerations with an empty or PreferNoSchedule effect tolerates.
func untoleratedPreferNoSchedule(node *corev1.Node, tolerations []corev1.Toleration) int64 {
	var n int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for j := range tolerations {
			e := tolerations[j].Effect
			if (e == "" || e == corev1.TaintEffectPreferNoSchedule) && tolerations[j].ToleratesTaint(t) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			n++
		}
	}
	return n
}
