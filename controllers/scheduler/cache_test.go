package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestNodeCacheFollowsBoundPods checks that the NodeInfos cached between passes follow the
// pods bound to a node: a pod bound since the last pass fills the node, a deleted or
// finished one frees it, and a changed Node is read again.
func TestNodeCacheFollowsBoundPods(t *testing.T) {
	tests := []struct {
		name string
		// change runs between the first pass, which finds node-a full, and the second.
		change    func(f *fixture)
		wantBound int
	}{
		{name: "nothing changed", change: func(*fixture) {}, wantBound: 0},
		{name: "bound pod deleted", change: func(f *fixture) { f.deletePod("running") }, wantBound: 1},
		{
			name: "bound pod succeeded",
			change: func(f *fixture) {
				p := f.stored("running").DeepCopy()
				p.Status.Phase = corev1.PodSucceeded
				f.updatePod(p)
			},
			wantBound: 1,
		},
		{
			name: "node grew",
			change: func(f *fixture) {
				f.updateNode(makeNode("node-a", "8", "8Gi", 110))
			},
			wantBound: 1,
		},
		{
			name: "another pod bound meanwhile",
			change: func(f *fixture) {
				f.updateNode(makeNode("node-a", "8", "8Gi", 110))
				other := makePod("other", 0, "4", "", "")
				other.Spec.NodeName = "node-a"
				f.addPod(other)
			},
			wantBound: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running := makePod("running", 0, "4", "", "")
			running.Spec.NodeName = "node-a"
			f := newFixture(t, Options{}, makeNode("node-a", "4", "8Gi", 110), running, makePod("p", 1, "1", "", ""))
			if got := f.schedule(); got != 0 {
				t.Fatalf("first pass bound %d pods; want 0 (node-a is full)", got)
			}
			f.deliver() // the PodScheduled condition the first pass wrote
			tt.change(f)
			f.s.queue.moveAll() // retry now rather than after the back-off
			if got := f.schedule(); got != tt.wantBound {
				t.Errorf("second pass bound %d pods; want %d", got, tt.wantBound)
			}
		})
	}
}
