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
			name:      "bound pod succeeded",
			change:    editStored("running", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
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
				other := makeBoundPod("other", "node-a", "4", "")
				f.addPod(other)
			},
			wantBound: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running := makeBoundPod("running", "node-a", "4", "")
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

// TestNodeCacheCountsEachPodOnce checks the node cache's incremental path against rebuilds:
// after each change, node-a's cached NodeInfo counts the pods a rebuild from the index
// counts, each once, and it is reused as it is when nothing it holds changed.
func TestNodeCacheCountsEachPodOnce(t *testing.T) {
	tests := []struct {
		name     string
		change   func(f *fixture)
		wantPods int
		wantSame bool // the NodeInfo of the first snapshot is reused
	}{
		{name: "nothing changed", change: func(*fixture) {}, wantPods: 1, wantSame: true},
		{
			name:     "pending pod bound",
			change:   editStored("late", func(p *corev1.Pod) { p.Spec.NodeName = "node-a" }),
			wantPods: 2,
		},
		{
			name: "bound pod's event arrives after a rebuild counted it",
			change: func(f *fixture) {
				other := makeBoundPod("other", "node-a", "3", "")
				f.must(f.podStore.Add(other)) // the indexer has it; the handler has not run
				f.s.nodes.invalidate("node-a")
				f.snapshotInfo("node-a")
				f.s.addPod(other)
			},
			wantPods: 2,
		},
		{
			name: "bound pod reported twice",
			change: func(f *fixture) {
				other := makeBoundPod("other", "node-a", "3", "")
				f.addPod(other)
				f.s.addPod(f.stored("other"))
			},
			wantPods: 2,
		},
		{
			name: "bound pod's status changed",
			change: editStored("running", func(p *corev1.Pod) {
				p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
			}),
			wantPods: 1,
			wantSame: true,
		},
		{
			name:     "bound pod's controller changed",
			change:   editStored("running", func(p *corev1.Pod) { p.OwnerReferences[0].UID = "rs-2" }),
			wantPods: 1,
		},
		{
			name:     "bound pod failed",
			change:   editStored("running", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
			wantPods: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running := makeBoundPod("running", "node-a", "4", "rs-1")
			late := makePod("late", 0, "2", "", "")
			late.Spec.SchedulerName = "another-scheduler"
			f := newFixture(t, Options{}, makeNode("node-a", "16", "64Gi", 110), running, late)
			before := f.snapshotInfo("node-a")
			tt.change(f)
			got := f.snapshotInfo("node-a")

			node, _, _ := f.nodeStore.GetByKey("node-a")
			rebuilt, err := f.s.nodes.build(node.(*corev1.Node))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Pods) != tt.wantPods || len(rebuilt.info.Pods) != tt.wantPods {
				t.Errorf("node-a counts %d pods, a rebuild %d; want %d", len(got.Pods), len(rebuilt.info.Pods), tt.wantPods)
			}
			if g, w := got.Requested.Cpu().MilliValue(), rebuilt.info.Requested.Cpu().MilliValue(); g != w {
				t.Errorf("node-a has %dm cpu requested; a rebuild counts %dm", g, w)
			}
			if same := got == before; same != tt.wantSame {
				t.Errorf("NodeInfo reused = %v; want %v", same, tt.wantSame)
			}
		})
	}
}

// TestAssumedPodCountsUntilTheCacheDoes checks the window between the informer's indexer
// showing a binding and the scheduler's handler hearing of it: the pod must keep counting
// on its node as assumed, or the node looks free and is double-booked.
func TestAssumedPodCountsUntilTheCacheDoes(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "4", "8Gi", 110), makePod("first", 0, "4", "", ""))
	if got := f.schedule(); got != 1 {
		t.Fatalf("first pass bound %d pods; want 1", got)
	}
	// The indexer sees the binding; the handler has not run yet.
	f.must(f.podStore.Update(f.stored("first")))
	f.addPod(makePod("second", 1, "4", "", ""))
	if got := f.schedule(); got != 0 {
		t.Errorf("second pass bound %d pods to the full node-a; want 0", got)
	}
	f.deliver()
	f.s.queue.moveAll()
	if got := f.schedule(); got != 0 {
		t.Errorf("pass after the handler ran bound %d pods to the full node-a; want 0", got)
	}
}
