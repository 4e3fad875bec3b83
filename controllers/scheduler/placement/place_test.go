package placement

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestPlaceFilters(t *testing.T) {
	ready := func(name string, opts ...nodeOpt) *corev1.Node { return makeNode(name, "4", "8Gi", 110, opts...) }
	noSchedule := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	noExecute := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoExecute}
	prefer := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectPreferNoSchedule}

	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*NodeInfo
		// want is the chosen node; wantErr the FitError message when no node fits.
		want    string
		wantErr string
	}{
		// NodeName.
		{
			name:  "nodeName picks that node",
			pod:   makePod("p", nodeName("b")),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b"))},
			want:  "b",
		},
		{
			name:    "nodeName of a missing node",
			pod:     makePod("p", nodeName("zz")),
			nodes:   []*NodeInfo{info(ready("a")), info(ready("b"))},
			wantErr: "0/2 nodes are available: 2 node(s) didn't match the requested node name.",
		},
		// NodeUnschedulable.
		{
			name:    "cordoned node refused",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", cordoned()))},
			wantErr: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
		{
			name:  "cordoned node tolerated",
			pod:   makePod("p", tolerations(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			nodes: []*NodeInfo{info(ready("a", cordoned()))},
			want:  "a",
		},
		{
			name:    "cordoned takes precedence over not ready",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", cordoned(), withReady(corev1.ConditionFalse)))},
			wantErr: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
		// Readiness.
		{
			name:    "not ready node",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", withReady(corev1.ConditionFalse)))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
		},
		{
			name:    "unreachable node",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", withReady(corev1.ConditionUnknown)))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		{
			name:    "node without a Ready condition",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", withoutConditions()))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
		},
		{
			name:  "not ready tolerated",
			pod:   makePod("p", tolerations(corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists})),
			nodes: []*NodeInfo{info(ready("a", withReady(corev1.ConditionFalse)))},
			want:  "a",
		},
		{
			name:    "NoExecute-only toleration does not tolerate the NoSchedule readiness taint",
			pod:     makePod("p", tolerations(corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})),
			nodes:   []*NodeInfo{info(ready("a", withReady(corev1.ConditionUnknown)))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		// TaintToleration.
		{
			name:    "NoSchedule taint",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(ready("a", withTaints(noSchedule))), info(ready("b", withTaints(noExecute)))},
			wantErr: "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:  "PreferNoSchedule taint does not filter",
			pod:   makePod("p"),
			nodes: []*NodeInfo{info(ready("a", withTaints(prefer)))},
			want:  "a",
		},
		{
			name:  "Equal toleration",
			pod:   makePod("p", tolerations(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu"})),
			nodes: []*NodeInfo{info(ready("a", withTaints(noSchedule, noExecute)))},
			want:  "a",
		},
		{
			name:    "toleration with another value",
			pod:     makePod("p", tolerations(corev1.Toleration{Key: "dedicated", Value: "cpu"})),
			nodes:   []*NodeInfo{info(ready("a", withTaints(noSchedule)))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:    "toleration for another effect",
			pod:     makePod("p", tolerations(corev1.Toleration{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})),
			nodes:   []*NodeInfo{info(ready("a", withTaints(noSchedule, noExecute)))},
			wantErr: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:  "empty key Exists tolerates everything",
			pod:   makePod("p", tolerations(corev1.Toleration{Operator: corev1.TolerationOpExists})),
			nodes: []*NodeInfo{info(ready("a", withTaints(noSchedule, noExecute), withReady(corev1.ConditionUnknown)))},
			want:  "a",
		},
		// NodeAffinity: nodeSelector and required terms.
		{
			name:  "nodeSelector",
			pod:   makePod("p", selectLabels("disk", "ssd")),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b", withLabels("disk", "ssd")))},
			want:  "b",
		},
		{
			name:    "nodeSelector matches nothing",
			pod:     makePod("p", selectLabels("disk", "ssd")),
			nodes:   []*NodeInfo{info(ready("a", withLabels("disk", "hdd"))), info(ready("b"))},
			wantErr: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:  "In",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("zone", corev1.NodeSelectorOpIn, "x", "y"))))),
			nodes: []*NodeInfo{info(ready("a", withLabels("zone", "z"))), info(ready("b", withLabels("zone", "y")))},
			want:  "b",
		},
		{
			name:  "NotIn matches a node without the label",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("zone", corev1.NodeSelectorOpNotIn, "x"))))),
			nodes: []*NodeInfo{info(ready("a", withLabels("zone", "x"))), info(ready("b"))},
			want:  "b",
		},
		{
			name:  "Exists",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("gpu", corev1.NodeSelectorOpExists))))),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b", withLabels("gpu", "")))},
			want:  "b",
		},
		{
			name:  "DoesNotExist",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("gpu", corev1.NodeSelectorOpDoesNotExist))))),
			nodes: []*NodeInfo{info(ready("a", withLabels("gpu", "1"))), info(ready("b"))},
			want:  "b",
		},
		{
			name:  "Gt",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("cores", corev1.NodeSelectorOpGt, "8"))))),
			nodes: []*NodeInfo{info(ready("a", withLabels("cores", "8"))), info(ready("b", withLabels("cores", "16"))), info(ready("c", withLabels("cores", "many")))},
			want:  "b",
		},
		{
			name:  "Lt",
			pod:   makePod("p", nodeAffinity(required(labelTerm(expr("cores", corev1.NodeSelectorOpLt, "8"))))),
			nodes: []*NodeInfo{info(ready("a", withLabels("cores", "8"))), info(ready("b", withLabels("cores", "4")))},
			want:  "b",
		},
		{
			name: "terms are ORed, expressions ANDed",
			pod: makePod("p", nodeAffinity(required(
				labelTerm(expr("zone", corev1.NodeSelectorOpIn, "x"), expr("disk", corev1.NodeSelectorOpIn, "ssd")),
				labelTerm(expr("zone", corev1.NodeSelectorOpIn, "y")),
			))),
			nodes: []*NodeInfo{info(ready("a", withLabels("zone", "x"))), info(ready("b", withLabels("zone", "y")))},
			want:  "b",
		},
		{
			name:    "invalid and empty terms match nothing",
			pod:     makePod("p", nodeAffinity(required(labelTerm(), labelTerm(expr("cores", corev1.NodeSelectorOpGt, "x"))))),
			nodes:   []*NodeInfo{info(ready("a", withLabels("cores", "4")))},
			wantErr: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:    "nodeSelector and affinity must both match",
			pod:     makePod("p", selectLabels("disk", "ssd"), nodeAffinity(required(labelTerm(expr("zone", corev1.NodeSelectorOpIn, "x"))))),
			nodes:   []*NodeInfo{info(ready("a", withLabels("disk", "ssd"))), info(ready("b", withLabels("zone", "x")))},
			wantErr: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:    "matchFields metadata.name restricts the nodes examined",
			pod:     makePod("p", requests("cpu", "8"), nodeAffinity(required(fieldTerm(expr("metadata.name", corev1.NodeSelectorOpIn, "b"))))),
			nodes:   []*NodeInfo{info(ready("a")), info(ready("b")), info(ready("c"))},
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].",
		},
		{
			name:  "matchFields metadata.name picks the node",
			pod:   makePod("p", nodeAffinity(required(fieldTerm(expr("metadata.name", corev1.NodeSelectorOpIn, "c"))))),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b")), info(ready("c"))},
			want:  "c",
		},
		{
			name:  "matchFields NotIn",
			pod:   makePod("p", nodeAffinity(required(fieldTerm(expr("metadata.name", corev1.NodeSelectorOpNotIn, "a"))))),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b"))},
			want:  "b",
		},
		{
			name: "conflicting node names",
			pod: makePod("p", nodeAffinity(required(fieldTerm(
				expr("metadata.name", corev1.NodeSelectorOpIn, "a"),
				expr("metadata.name", corev1.NodeSelectorOpIn, "b"),
			)))),
			nodes:   []*NodeInfo{info(ready("a")), info(ready("b"))},
			wantErr: "0/2 nodes are available: pod affinity terms conflict.",
		},
		{
			name:  "a term without node names lifts the restriction",
			pod:   makePod("p", nodeAffinity(required(fieldTerm(expr("metadata.name", corev1.NodeSelectorOpIn, "a")), labelTerm(expr("zone", corev1.NodeSelectorOpExists))))),
			nodes: []*NodeInfo{info(ready("a", cordoned())), info(ready("b", withLabels("zone", "x")))},
			want:  "b",
		},
		// NodePorts.
		{
			name:    "host port taken",
			pod:     makePod("p", hostPortOf("", "", 8080)),
			nodes:   []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("", corev1.ProtocolTCP, 8080)))},
			wantErr: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:  "host port with another protocol",
			pod:   makePod("p", hostPortOf("", corev1.ProtocolUDP, 8080)),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("", "", 8080)))},
			want:  "a",
		},
		{
			name:  "host port on another address",
			pod:   makePod("p", hostPortOf("10.0.0.1", "", 8080)),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("10.0.0.2", "", 8080)))},
			want:  "a",
		},
		{
			name:    "specific address against all addresses",
			pod:     makePod("p", hostPortOf("10.0.0.1", "", 8080)),
			nodes:   []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("0.0.0.0", "", 8080)))},
			wantErr: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:    "all addresses against a specific address",
			pod:     makePod("p", hostPortOf("", "", 8080)),
			nodes:   []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("10.0.0.2", "", 8080)))},
			wantErr: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:  "host port free elsewhere",
			pod:   makePod("p", hostPortOf("", "", 8080)),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", hostPortOf("", "", 8080))), info(ready("b"), makePod("r", hostPortOf("", "", 9090)))},
			want:  "b",
		},
		// NodeResourcesFit.
		{
			name:    "insufficient cpu",
			pod:     makePod("p", requests("cpu", "3")),
			nodes:   []*NodeInfo{info(ready("a"), makePod("q", requests("cpu", "2")))},
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "exact fit",
			pod:   makePod("p", requests("cpu", "2", "memory", "4Gi")),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", requests("cpu", "2", "memory", "4Gi")))},
			want:  "a",
		},
		{
			name:    "insufficient cpu and memory count once each",
			pod:     makePod("p", requests("cpu", "5", "memory", "9Gi")),
			nodes:   []*NodeInfo{info(ready("a")), info(makeNode("b", "8", "4Gi", 110))},
			wantErr: "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.",
		},
		{
			name:    "too many pods",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{info(makeNode("a", "4", "8Gi", 2), many(2, "q")...)},
			wantErr: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name:    "too many pods and insufficient cpu",
			pod:     makePod("p", requests("cpu", "1")),
			nodes:   []*NodeInfo{info(makeNode("a", "1", "8Gi", 1), makePod("q", requests("cpu", "500m")))},
			wantErr: "0/1 nodes are available: 1 Insufficient cpu, 1 Too many pods.",
		},
		{
			name:  "a pod without requests fits a full node",
			pod:   makePod("p"),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", requests("cpu", "4", "memory", "8Gi")))},
			want:  "a",
		},
		{
			name:  "a pod requesting no cpu fits an over-committed node",
			pod:   makePod("p", requests("memory", "1Gi")),
			nodes: []*NodeInfo{info(ready("a"), makePod("q", requests("cpu", "6")))},
			want:  "a",
		},
		{
			name:    "ephemeral storage when requested",
			pod:     makePod("p", requests("ephemeral-storage", "20Gi")),
			nodes:   []*NodeInfo{info(ready("a", withAllocatable(corev1.ResourceEphemeralStorage, "10Gi")))},
			wantErr: "0/1 nodes are available: 1 Insufficient ephemeral-storage.",
		},
		{
			name:    "extended resource",
			pod:     makePod("p", requests("example.com/gpu", "2")),
			nodes:   []*NodeInfo{info(ready("a", withAllocatable("example.com/gpu", "1"))), info(ready("b"))},
			wantErr: "0/2 nodes are available: 2 Insufficient example.com/gpu.",
		},
		{
			name:  "extended resource fits",
			pod:   makePod("p", requests("example.com/gpu", "1")),
			nodes: []*NodeInfo{info(ready("a")), info(ready("b", withAllocatable("example.com/gpu", "1")))},
			want:  "b",
		},
		{
			name:    "init container larger than the containers",
			pod:     makePod("p", requests("cpu", "1"), initContainer(false, "cpu", "3")),
			nodes:   []*NodeInfo{info(makeNode("a", "2", "8Gi", 110))},
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:  "init container smaller than the sum of the containers",
			pod:   makePod("p", requests("cpu", "1"), container("cpu", "1"), initContainer(false, "cpu", "1500m")),
			nodes: []*NodeInfo{info(makeNode("a", "2", "8Gi", 110))},
			want:  "a",
		},
		{
			name:    "sidecar adds to the containers",
			pod:     makePod("p", requests("cpu", "1"), initContainer(true, "cpu", "1500m")),
			nodes:   []*NodeInfo{info(makeNode("a", "2", "8Gi", 110))},
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:    "overhead counts",
			pod:     makePod("p", requests("cpu", "2"), overhead("cpu", "500m")),
			nodes:   []*NodeInfo{info(makeNode("a", "2", "8Gi", 110))},
			wantErr: "0/1 nodes are available: 1 Insufficient cpu.",
		},
		{
			name:    "first failing filter wins",
			pod:     makePod("p", requests("cpu", "8"), selectLabels("disk", "ssd")),
			nodes:   []*NodeInfo{info(ready("a", withTaints(noSchedule))), info(ready("b")), info(ready("c", withLabels("disk", "ssd")))},
			wantErr: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}.",
		},
		{
			name:    "no nodes",
			pod:     makePod("p"),
			wantErr: "no nodes available to schedule pods",
		},
		{
			name:    "nil entries are skipped",
			pod:     makePod("p"),
			nodes:   []*NodeInfo{nil, {}, info(ready("a", cordoned()))},
			wantErr: "0/1 nodes are available: 1 node(s) were unschedulable.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Place(tt.pod, tt.nodes)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Place() = %q, %v; want error %q", got, err, tt.wantErr)
				}
				var fe *FitError
				if !errors.As(err, &fe) || !errors.Is(err, ErrUnschedulable) {
					t.Errorf("Place() error %T is not a *FitError matching ErrUnschedulable", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Place() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *FitError
		want string
	}{
		{
			name: "Kubernetes' example",
			err: &FitError{NumAllNodes: 3, NodeReasons: map[string][]string{
				"a": {"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
				"b": {"Insufficient cpu"},
				"c": {"Insufficient cpu"},
			}},
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu.",
		},
		{
			name: "several reasons on one node",
			err: &FitError{NumAllNodes: 2, NodeReasons: map[string][]string{
				"a": {"Too many pods", "Insufficient cpu", "Insufficient memory"},
				"b": {"Insufficient memory"},
			}},
			want: "0/2 nodes are available: 1 Insufficient cpu, 1 Too many pods, 2 Insufficient memory.",
		},
		{
			name: "counts sort as strings, as in Kubernetes",
			err: func() *FitError {
				fe := &FitError{NumAllNodes: 12, NodeReasons: map[string][]string{}}
				for i := range 10 {
					fe.NodeReasons[string(rune('a'+i))] = []string{"Insufficient cpu"}
				}
				fe.NodeReasons["y"] = []string{ReasonUnschedulable}
				fe.NodeReasons["z"] = []string{ReasonUnschedulable}
				return fe
			}(),
			want: "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable.",
		},
		{
			name: "pod reason",
			err:  &FitError{NumAllNodes: 4, PodReason: ReasonAffinityConflict},
			want: "0/4 nodes are available: pod affinity terms conflict.",
		},
		{
			name: "no nodes",
			err:  &FitError{},
			want: "no nodes available to schedule pods",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestPlaceReportsEveryNode(t *testing.T) {
	pod := makePod("p", requests("cpu", "3"))
	nodes := []*NodeInfo{
		info(makeNode("a", "2", "8Gi", 110)),
		info(makeNode("b", "4", "8Gi", 110, cordoned())),
		info(makeNode("c", "8", "8Gi", 110, withReady(corev1.ConditionUnknown))),
	}
	_, err := Place(pod, nodes)
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("Place() error = %v; want a *FitError", err)
	}
	want := map[string][]string{
		"a": {"Insufficient cpu"},
		"b": {ReasonUnschedulable},
		"c": {"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
	}
	if diff := cmp.Diff(want, fe.NodeReasons); diff != "" {
		t.Errorf("FitError.NodeReasons mismatch (-want +got):\n%s", diff)
	}
	if fe.Pod != pod || fe.NumAllNodes != 3 {
		t.Errorf("FitError = {Pod: %v, NumAllNodes: %d}; want {Pod: %v, NumAllNodes: 3}", fe.Pod, fe.NumAllNodes, pod)
	}
}
