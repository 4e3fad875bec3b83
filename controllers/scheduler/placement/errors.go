package placement

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrUnschedulable is what every *FitError matches with errors.Is: the pod fits on none of
// the nodes.
var ErrUnschedulable = errors.New("placement: pod fits on no node")

// The reasons a node is refused, worded as kube-scheduler's plugins word them so that
// messages read the same. Taints are reported as "node(s) had untolerated taint {key: value}".
const (
	// ReasonNodeAffinityPreFilter refuses a node outside the names a pod's required node
	// affinity lists in matchFields metadata.name.
	ReasonNodeAffinityPreFilter = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
	// ReasonUnschedulable refuses a cordoned node.
	ReasonUnschedulable = "node(s) were unschedulable"
	// ReasonNodeName refuses a node other than the pod's spec.nodeName.
	ReasonNodeName = "node(s) didn't match the requested node name"
	// ReasonNodeAffinity refuses a node that does not match the pod's nodeSelector or
	// required node affinity.
	ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"
	// ReasonNodePorts refuses a node where a host port the pod asks for is taken.
	ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"
	// ReasonTooManyPods refuses a node that already runs its allocatable number of pods.
	ReasonTooManyPods = "Too many pods"
	// ReasonAffinityConflict refuses a pod whose required node-affinity terms name no node
	// in common; no node is examined.
	ReasonAffinityConflict = "pod affinity terms conflict"
)

// noNodesMessage is kube-scheduler's message when there is no node at all.
const noNodesMessage = "no nodes available to schedule pods"

// reasonInsufficient returns the reason a node lacks resource name.
func reasonInsufficient(name corev1.ResourceName) string {
	return "Insufficient " + string(name)
}

// reasonTaint returns the reason a node carries a taint the pod does not tolerate.
func reasonTaint(t *corev1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// FitError reports why a pod fits on no node. Its message reads like kube-scheduler's,
// without the preemption part:
//
//	0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu.
type FitError struct {
	// Pod is the pod that was being placed.
	Pod *corev1.Pod
	// NumAllNodes is the number of nodes examined.
	NumAllNodes int
	// PodReason, when set, refused the pod before any node was examined; NodeReasons is
	// then empty.
	PodReason string
	// NodeReasons maps the name of every refused node to the reasons it was refused.
	NodeReasons map[string][]string
}

// Error returns "0/N nodes are available: " followed by how many nodes were refused for
// each reason, sorted as kube-scheduler sorts them, or kube-scheduler's "no nodes available
// to schedule pods" when there was no node.
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return noNodesMessage
	}
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", e.NumAllNodes)
	if e.PodReason != "" {
		fmt.Fprintf(&b, " %s.", e.PodReason)
		return b.String()
	}
	counts := make(map[string]int)
	for _, reasons := range e.NodeReasons {
		for _, r := range reasons {
			counts[r]++
		}
	}
	if len(counts) == 0 {
		return b.String()
	}
	lines := make([]string, 0, len(counts))
	for r, n := range counts {
		lines = append(lines, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(lines)
	fmt.Fprintf(&b, " %s.", strings.Join(lines, ", "))
	return b.String()
}

// Is reports whether target is ErrUnschedulable.
func (e *FitError) Is(target error) bool { return target == ErrUnschedulable }
