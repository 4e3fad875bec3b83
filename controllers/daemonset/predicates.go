package daemonset

import (
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decision is what a DaemonSet wants on one node.
type decision struct {
	// run: the node should run a daemon pod (a missing one is created).
	run bool
	// keep: a daemon pod already on the node may stay; false makes it
	// misscheduled, and it is deleted.
	keep bool
}

// shouldRunOn decides, as Kubernetes' NodeShouldRunDaemonPod, whether node
// should run ds's pod: the template's nodeName (when set), nodeSelector and
// required node affinity must match the node, and the template's tolerations
// plus the daemon tolerations must tolerate the node's NoSchedule and
// NoExecute taints. A pod on a node whose only untolerated taints are
// NoSchedule may stay.
func shouldRunOn(node *corev1.Node, ds *appsv1.DaemonSet) decision {
	spec := &ds.Spec.Template.Spec
	if spec.NodeName != "" && spec.NodeName != node.Name {
		return decision{}
	}
	if !matchesNodeSelector(spec.NodeSelector, node) || !matchesRequiredAffinity(spec.Affinity, node) {
		return decision{}
	}
	tolerations := withDaemonTolerations(spec.Tolerations, spec.HostNetwork)
	noSchedule, noExecute := untoleratedTaints(node.Spec.Taints, tolerations)
	return decision{run: !noSchedule && !noExecute, keep: !noExecute}
}

// untoleratedTaints reports whether taints has a NoSchedule, respectively a
// NoExecute, taint that no toleration tolerates. PreferNoSchedule taints are
// ignored.
func untoleratedTaints(taints []corev1.Taint, tolerations []corev1.Toleration) (noSchedule, noExecute bool) {
	for i := range taints {
		t := &taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(t) {
				tolerated = true
				break
			}
		}
		if tolerated {
			continue
		}
		if t.Effect == corev1.TaintEffectNoSchedule {
			noSchedule = true
		} else {
			noExecute = true
		}
	}
	return noSchedule, noExecute
}

// matchesNodeSelector reports whether node carries every label of selector.
func matchesNodeSelector(selector map[string]string, node *corev1.Node) bool {
	for k, v := range selector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// matchesRequiredAffinity reports whether node satisfies the required node
// affinity of affinity (true when there is none): it must match at least one
// term, and a term matches when all its expressions and fields match. Empty
// or invalid terms match nothing, as in Kubernetes. The scheduler's matcher
// (controllers/scheduler/placement) is unexported, hence this small copy.
func matchesRequiredAffinity(affinity *corev1.Affinity, node *corev1.Node) bool {
	if affinity == nil || affinity.NodeAffinity == nil || affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if matchesTerm(term, node) {
			return true
		}
	}
	return false
}

// matchesTerm reports whether node satisfies every requirement of term.
func matchesTerm(term corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		v, ok := node.Labels[r.Key]
		if !matchesRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != metav1.ObjectNameField || len(r.Values) != 1 {
			return false
		}
		if r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn {
			return false
		}
		if !matchesRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

// matchesRequirement reports whether a value v (present when ok) satisfies r.
// Requirements with the wrong number of values match nothing.
func matchesRequirement(r corev1.NodeSelectorRequirement, v string, ok bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return len(r.Values) > 0 && ok && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return len(r.Values) > 0 && (!ok || !slices.Contains(r.Values, v))
	case corev1.NodeSelectorOpExists:
		return len(r.Values) == 0 && ok
	case corev1.NodeSelectorOpDoesNotExist:
		return len(r.Values) == 0 && !ok
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 || !ok {
			return false
		}
		bound, err := strconv.ParseInt(r.Values[0], 10, 64)
		if err != nil {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return n > bound
		}
		return n < bound
	}
	return false
}

// daemonTolerations are the tolerations Kubernetes adds to every daemon pod
// (AddOrUpdateDaemonPodTolerations): daemons keep running on not-ready and
// unreachable nodes, and are placed on nodes under resource pressure or
// cordoned.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// hostNetworkToleration is added to daemon pods that use the host network:
// they can run before the node's network is configured.
var hostNetworkToleration = corev1.Toleration{
	Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
}

// withDaemonTolerations returns tolerations (not modified) with the daemon
// tolerations added; a toleration with the same key, operator, value and
// effect is replaced, as Kubernetes' AddOrUpdateTolerationInPodSpec does.
func withDaemonTolerations(tolerations []corev1.Toleration, hostNetwork bool) []corev1.Toleration {
	out := slices.Clone(tolerations)
	add := daemonTolerations
	if hostNetwork {
		add = append(slices.Clone(add), hostNetworkToleration)
	}
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].MatchToleration(&t) {
				out[i] = t
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}
