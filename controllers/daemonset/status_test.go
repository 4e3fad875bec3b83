package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestSyncStatus(t *testing.T) {
	v1 := newDS()
	selected := map[string]string{"run": "yes"}
	tests := []struct {
		name        string
		ds          *appsv1.DaemonSet
		nodes       []runtime.Object
		pods        []*corev1.Pod
		want        appsv1.DaemonSetStatus
		wantRequeue time.Duration
	}{
		{
			name: "counts",
			ds: v2(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.NodeSelector = selected
				ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
			}),
			nodes: objects(newNode("node-1", selected), newNode("node-2", selected), newNode("node-3", selected), newNode("node-4", nil)),
			pods: []*corev1.Pod{
				newPod("p1", "node-1", v2(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = selected })),
				newPod("p2", "node-2", v1, notReady()),
				newPod("p4", "node-4", v1),
			},
			want: appsv1.DaemonSetStatus{
				DesiredNumberScheduled: 3, CurrentNumberScheduled: 2, NumberMisscheduled: 1,
				NumberReady: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1, NumberUnavailable: 2,
				ObservedGeneration: 2,
			},
		},
		{
			name:  "minReadySeconds holds availability and requeues",
			ds:    withDS(func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 60 }),
			nodes: nodes(2),
			pods: []*corev1.Pod{
				newPod("p1", "node-1", v1, readyAt(t0.Add(-10*time.Second))),
				newPod("p2", "node-2", v1),
			},
			want: appsv1.DaemonSetStatus{
				DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 2,
				UpdatedNumberScheduled: 2, NumberAvailable: 1, NumberUnavailable: 1, ObservedGeneration: 1,
			},
			wantRequeue: 51 * time.Second, // 50 s, rounded past the strict boundary
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := objects(tc.ds, tc.nodes)
			for _, p := range tc.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			f.sync("default/agent")
			if diff := cmp.Diff(tc.want, f.storedDS("agent").Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got := f.requeues["default/agent"]; got != tc.wantRequeue {
				t.Errorf("requeue = %v; want %v", got, tc.wantRequeue)
			}
		})
	}
}

func TestSyncStatusWrittenOnlyOnChange(t *testing.T) {
	ds := newDS()
	ds.Status = appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1,
		UpdatedNumberScheduled: 1, NumberAvailable: 1, ObservedGeneration: 1,
	}
	rev := currentRevision(t, ds, 1)
	f := newFixture(t, objects(ds, rev, nodes(1), newPod("p1", "node-1", ds))...)
	f.sync("default/agent")
	if got := f.actions(); len(got) != 0 {
		t.Errorf("actions = %q; want none", got)
	}
}
