package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// v2 returns the DaemonSet after its template moved to agent:2 (generation 2).
func v2(opts ...dsOption) *appsv1.DaemonSet {
	ds := withDS(append([]dsOption{image("agent:2")}, opts...)...)
	ds.Generation = 2
	return ds
}

func TestRollingUpdate(t *testing.T) {
	v1 := newDS()
	pct := func(s string) intstr.IntOrString { return intstr.FromString(s) }
	num := intstr.FromInt32
	tests := []struct {
		name string
		ds   *appsv1.DaemonSet
		// pods builds the pods from the old and the new DaemonSet.
		pods []*corev1.Pod
		want []string
	}{
		{
			name: "maxUnavailable 1: one old pod at a time",
			ds:   v2(),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
			want: []string{"delete p1"},
		},
		{
			name: "maxUnavailable 2",
			ds:   v2(rolling(num(2), num(0))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
			want: []string{"delete p1", "delete p2"},
		},
		{
			name: "maxUnavailable 50% of 3 rounds up to 2",
			ds:   v2(rolling(pct("50%"), num(0))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
			want: []string{"delete p1", "delete p2"},
		},
		{
			name: "unavailable old pod replaced first, within the budget",
			ds:   v2(),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1, notReady()), newPod("p3", "node-3", v1)},
			want: []string{"delete p2"},
		},
		{
			name: "new pod not yet available uses the budget",
			ds:   v2(),
			pods: []*corev1.Pod{newPod("p1", "node-1", v2(), notReady()), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
		},
		{
			name: "minReadySeconds: a new pod ready for too short is unavailable",
			ds:   v2(func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 60 }),
			pods: []*corev1.Pod{newPod("p1", "node-1", v2(), readyAt(t0.Add(-10*time.Second))), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
		},
		{
			name: "all updated: nothing to do",
			ds:   v2(),
			pods: []*corev1.Pod{newPod("p1", "node-1", v2()), newPod("p2", "node-2", v2()), newPod("p3", "node-3", v2())},
		},
		{
			name: "maxSurge 1: new pod created beside the old one",
			ds:   v2(rolling(num(0), num(1))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
			want: []string{"create node-1"},
		},
		{
			name: "maxSurge 1: surged pod not available blocks further surge",
			ds:   v2(rolling(num(0), num(1))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("n1", "node-1", v2(), notReady(), createdAt(t0)), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
		},
		{
			name: "maxSurge 1: old pod deleted once the new one is available",
			ds:   v2(rolling(num(0), num(1))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("n1", "node-1", v2(), createdAt(t0)), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1)},
			want: []string{"delete p1"},
		},
		{
			name: "maxSurge 1: unavailable old pod surged at once, beyond the limit",
			ds:   v2(rolling(num(0), num(1))),
			pods: []*corev1.Pod{newPod("p1", "node-1", v1), newPod("p2", "node-2", v1, notReady()), newPod("p3", "node-3", v1)},
			want: []string{"create node-1", "create node-2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := objects(tc.ds, nodes(3))
			for _, p := range tc.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			f.sync("default/agent")
			if diff := cmp.Diff(tc.want, f.podActions()); diff != "" {
				t.Errorf("pod actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRollingUpdateConverges(t *testing.T) {
	v1 := newDS()
	f := newFixture(t, objects(v2(), nodes(3), newPod("p1", "node-1", v1), newPod("p2", "node-2", v1), newPod("p3", "node-3", v1))...)
	for i := 0; i < 20; i++ {
		f.sync("default/agent")
		f.observe()
		// The kubelet starts every new pod at once.
		for _, p := range f.storedPods() {
			if p.Spec.NodeName == "" {
				p = p.DeepCopy()
				p.Spec.NodeName = targetNode(p)
				p.Status = newPod("x", "", v1).Status
				p.ResourceVersion = "9"
				if err := f.client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "default"); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.observe()
	}
	st := f.storedDS("agent").Status
	if st.UpdatedNumberScheduled != 3 || st.NumberAvailable != 3 || st.DesiredNumberScheduled != 3 {
		t.Errorf("status = %+v; want 3 updated, available and desired", st)
	}
	for _, p := range f.storedPods() {
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] != hashOf(v2()) {
			t.Errorf("pod %s on %s has hash %q; want %q", p.Name, targetNode(p), p.Labels[appsv1.ControllerRevisionHashLabelKey], hashOf(v2()))
		}
	}
}

func TestOnDeleteDoesNotReplace(t *testing.T) {
	v1 := newDS()
	ds := v2(onDelete())
	// node-2's old pod was deleted by the user: its replacement is new.
	f := newFixture(t, objects(ds, nodes(2), newPod("p1", "node-1", v1))...)
	f.sync("default/agent")
	if diff := cmp.Diff([]string{"create node-2"}, f.podActions()); diff != "" {
		t.Errorf("pod actions (-want +got):\n%s", diff)
	}
	pods := f.storedPods()
	var created *corev1.Pod
	for _, p := range pods {
		if p.Name != "p1" {
			created = p
		}
	}
	if created == nil || created.Labels[appsv1.ControllerRevisionHashLabelKey] != hashOf(ds) {
		t.Errorf("replacement pod = %v; want one with hash %q", created, hashOf(ds))
	}
}
