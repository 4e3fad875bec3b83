package placement

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		name       string
		nodes      int
		percentage int32
		want       int
	}{
		{name: "small cluster: every node", nodes: 99, percentage: 0, want: 99},
		{name: "adaptive, 100 nodes", nodes: 100, percentage: 0, want: 100},
		{name: "adaptive, 1000 nodes", nodes: 1000, percentage: 0, want: 420},
		{name: "adaptive, 5000 nodes", nodes: 5000, percentage: 0, want: 500},
		{name: "adaptive floor 5%", nodes: 10000, percentage: 0, want: 500},
		{name: "explicit 10%", nodes: 2000, percentage: 10, want: 200},
		{name: "at least the minimum", nodes: 500, percentage: 1, want: MinFeasibleNodesToFind},
		{name: "100% is every node", nodes: 1000, percentage: 100, want: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := numFeasibleNodesToFind(tt.nodes, tt.percentage); got != tt.want {
				t.Errorf("numFeasibleNodesToFind(%d, %d) = %d; want %d", tt.nodes, tt.percentage, got, tt.want)
			}
		})
	}
}

// nodesNamed returns n empty ready nodes named node-000, node-001, ...
func nodesNamed(n int, opts ...nodeOpt) []*NodeInfo {
	out := make([]*NodeInfo, n)
	for i := range out {
		out[i] = info(makeNode(fmt.Sprintf("node-%03d", i), "4", "8Gi", 110, opts...))
	}
	return out
}

func TestPlaceWithOptionsSamples(t *testing.T) {
	tests := []struct {
		name         string
		nodes        []*NodeInfo
		opts         Options
		want         Result
		wantFitNodes int // -1: no error
	}{
		{
			name:         "adaptive share of 1000 nodes from the start",
			nodes:        nodesNamed(1000),
			opts:         Options{},
			want:         Result{Node: "node-000", Next: 420, Examined: 420, Feasible: 420},
			wantFitNodes: -1,
		},
		{
			name:         "wraps around",
			nodes:        nodesNamed(1000),
			opts:         Options{Start: 900},
			want:         Result{Node: "node-000", Next: 320, Examined: 420, Feasible: 420},
			wantFitNodes: -1,
		},
		{
			name:         "start taken modulo",
			nodes:        nodesNamed(1000),
			opts:         Options{Start: 2950},
			want:         Result{Node: "node-000", Next: 370, Examined: 420, Feasible: 420},
			wantFitNodes: -1,
		},
		{
			name:         "every node at 100%",
			nodes:        nodesNamed(200),
			opts:         Options{PercentageOfNodesToScore: 100, Start: 50},
			want:         Result{Node: "node-000", Next: 50, Examined: 200, Feasible: 200},
			wantFitNodes: -1,
		},
		{
			name:         "nothing fits: every node examined and reported",
			nodes:        nodesNamed(300, cordoned()),
			opts:         Options{Start: 7},
			want:         Result{Next: 7, Examined: 300},
			wantFitNodes: 300,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlaceWithOptions(makePod("p", requests("cpu", "100m")), tt.nodes, tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PlaceWithOptions() result mismatch (-want +got):\n%s", diff)
			}
			var fe *FitError
			switch {
			case tt.wantFitNodes < 0 && err != nil:
				t.Errorf("PlaceWithOptions() error = %v; want nil", err)
			case tt.wantFitNodes >= 0 && !errors.As(err, &fe):
				t.Errorf("PlaceWithOptions() error = %v; want a *FitError", err)
			case tt.wantFitNodes >= 0 && (fe.NumAllNodes != tt.wantFitNodes || len(fe.NodeReasons) != tt.wantFitNodes):
				t.Errorf("FitError covers %d nodes with %d reasons; want %d", fe.NumAllNodes, len(fe.NodeReasons), tt.wantFitNodes)
			}
		})
	}
}

// TestPrecomputedTotals checks that the totals NewNodeInfo and AddPod keep, which Place
// reads, equal those recomputed from the NodeInfo's fields, and that Place gives the same
// answer for a NodeInfo built by hand.
func TestPrecomputedTotals(t *testing.T) {
	node := makeNode("a", "4", "8Gi", 110, withLabels(corev1.LabelTopologyZone, "z1"))
	tests := []struct {
		name string
		pods []*corev1.Pod
	}{
		{name: "no pods"},
		{name: "requests and owners", pods: []*corev1.Pod{
			makePod("p", requests("cpu", "1", "memory", "1Gi"), ownedBy("rs1")),
			makePod("q", ownedBy("rs1")),
			makePod("r", requests("ephemeral-storage", "1Gi"), ownedBy("rs2")),
			makePod("s"),
		}},
		{name: "host ports and sidecars", pods: []*corev1.Pod{
			makePod("p", hostPortOf("", "", 80), initContainer(true, "cpu", "200m")),
			makePod("q", hostPortOf("10.0.0.1", corev1.ProtocolUDP, 53), overhead("memory", "64Mi")),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built := NewNodeInfo(node, tt.pods...)
			byHand := &NodeInfo{Node: built.Node, Requested: built.Requested, NonZeroRequested: built.NonZeroRequested, Pods: built.Pods}
			got, want := built.current(), byHand.current()
			if got != built.totals {
				t.Fatalf("current() recomputed the totals of a NodeInfo built by NewNodeInfo")
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(nodeTotals{}, hostPort{}, zone{})); diff != "" {
				t.Errorf("totals mismatch (-recomputed +kept):\n%s", diff)
			}
		})
	}
}

func TestNodeInfoClone(t *testing.T) {
	n := NewNodeInfo(makeNode("a", "4", "8Gi", 110), makePod("p", requests("cpu", "1"), ownedBy("rs1")))
	c := n.Clone()
	c.AddPod(makePod("q", requests("cpu", "2"), ownedBy("rs1"), hostPortOf("", "", 80)))
	if len(n.Pods) != 1 || len(c.Pods) != 2 {
		t.Fatalf("len(Pods) = %d, %d after adding to the clone; want 1, 2", len(n.Pods), len(c.Pods))
	}
	if got := n.Requested[corev1.ResourceCPU]; got.MilliValue() != 1000 {
		t.Errorf("original Requested cpu = %s; want 1", got.String())
	}
	if got := c.Requested[corev1.ResourceCPU]; got.MilliValue() != 3000 {
		t.Errorf("clone Requested cpu = %s; want 3", got.String())
	}
	if got, want := n.current().owners["rs1"], int64(1); got != want {
		t.Errorf("original owner count = %d; want %d", got, want)
	}
	if got, want := c.current().owners["rs1"], int64(2); got != want {
		t.Errorf("clone owner count = %d; want %d", got, want)
	}
	if len(n.current().hostPorts) != 0 {
		t.Errorf("original host ports = %v; want none", n.current().hostPorts)
	}
}
