package daemonset

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestSyncCreatesPodPerEligibleNode(t *testing.T) {
	noSchedule := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	noExecute := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute}
	preferNo := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectPreferNoSchedule}
	notReadyTaint := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	pressure := corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule}
	netUnavailable := corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}
	tolerateDB := corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db"}
	ssd := map[string]string{"disk": "ssd"}

	tests := []struct {
		name  string
		ds    *appsv1.DaemonSet
		nodes []runtime.Object
		want  []string
	}{
		{
			name:  "every node",
			ds:    newDS(),
			nodes: nodes(3),
			want:  []string{"create node-1", "create node-2", "create node-3"},
		},
		{
			name: "nodeSelector excludes nodes",
			ds: withDS(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.NodeSelector = ssd
			}),
			nodes: objects(newNode("node-1", ssd), newNode("node-2", nil), newNode("node-3", map[string]string{"disk": "hdd"})),
			want:  []string{"create node-1"},
		},
		{
			name: "required node affinity",
			ds: withDS(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"hdd"}}},
					}}},
				}}
			}),
			nodes: objects(newNode("node-1", ssd), newNode("node-2", nil), newNode("node-3", map[string]string{"disk": "hdd"})),
			want:  []string{"create node-1", "create node-2"},
		},
		{
			name:  "tainted nodes excluded",
			ds:    newDS(),
			nodes: objects(newNode("node-1", nil, noSchedule), newNode("node-2", nil, noExecute), newNode("node-3", nil, preferNo)),
			want:  []string{"create node-3"},
		},
		{
			name: "tolerated taints",
			ds: withDS(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{tolerateDB}
			}),
			nodes: objects(newNode("node-1", nil, noSchedule), newNode("node-2", nil, noExecute)),
			want:  []string{"create node-1", "create node-2"},
		},
		{
			name:  "daemon tolerations cover not-ready and pressure",
			ds:    newDS(),
			nodes: objects(newNode("node-1", nil, notReadyTaint), newNode("node-2", nil, pressure), newNode("node-3", nil, netUnavailable)),
			want:  []string{"create node-1", "create node-2"},
		},
		{
			name: "hostNetwork pods tolerate network-unavailable",
			ds: withDS(func(ds *appsv1.DaemonSet) {
				ds.Spec.Template.Spec.HostNetwork = true
			}),
			nodes: objects(newNode("node-3", nil, netUnavailable)),
			want:  []string{"create node-3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, objects(tc.ds, tc.nodes)...)
			f.sync("default/agent")
			if diff := cmp.Diff(tc.want, f.podActions()); diff != "" {
				t.Errorf("pod actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncCreatedPod(t *testing.T) {
	ds := withDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)},
		}
		ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}},
				MatchFields:      []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"node-9"}}},
			}}},
		}}
	})
	f := newFixture(t, ds, newNode("node-1", map[string]string{"disk": "ssd"}))
	f.sync("default/agent")

	if got, want := f.actions(), []string{"create controllerrevisions agent-" + hashOf(ds), "create pods agent-*", "update daemonsets/status agent"}; !cmp.Equal(got, want) {
		t.Errorf("actions = %q; want %q", got, want)
	}
	pods := f.storedPods()
	if len(pods) != 1 {
		t.Fatalf("stored pods = %d; want 1", len(pods))
	}
	p := pods[0]
	if p.GenerateName != "agent-" || p.Spec.NodeName != "" {
		t.Errorf("generateName, nodeName = %q, %q; want %q, %q", p.GenerateName, p.Spec.NodeName, "agent-", "")
	}
	wantLabels := map[string]string{"app": "agent", "controller-revision-hash": hashOf(ds), "pod-template-generation": "1"}
	if diff := cmp.Diff(wantLabels, p.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantRef := []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "agent-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	if diff := cmp.Diff(wantRef, p.OwnerReferences); diff != "" {
		t.Errorf("ownerReferences (-want +got):\n%s", diff)
	}
	exists := corev1.TolerationOpExists
	wantTolerations := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: exists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: exists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: exists, Effect: corev1.TaintEffectNoSchedule},
	}
	if diff := cmp.Diff(wantTolerations, p.Spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
	wantTerms := []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}},
		MatchFields:      []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
	}}
	if diff := cmp.Diff(wantTerms, p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms); diff != "" {
		t.Errorf("required node affinity terms (-want +got):\n%s", diff)
	}
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-9" {
		t.Errorf("the DaemonSet's template was modified")
	}
	if got, want := f.eventReasons(), []string{"Normal SuccessfulCreate"}; !cmp.Equal(got, want) {
		t.Errorf("events = %q; want %q", got, want)
	}
}

func TestSyncDeletesPods(t *testing.T) {
	ds := newDS()
	tests := []struct {
		name  string
		ds    *appsv1.DaemonSet
		nodes []runtime.Object
		pods  []*corev1.Pod
		want  []string
	}{
		{
			name:  "unbound pod for a removed node",
			ds:    ds,
			nodes: nodes(1),
			pods:  []*corev1.Pod{newPod("a", "node-1", ds), newPod("b", "node-2", ds, unbound())},
			want:  []string{"delete b"},
		},
		{
			name:  "node no longer selected",
			ds:    withDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			nodes: objects(newNode("node-1", map[string]string{"disk": "ssd"}), newNode("node-2", nil)),
			pods:  []*corev1.Pod{newPod("a", "node-1", ds), newPod("b", "node-2", ds)},
			want:  []string{"delete b"},
		},
		{
			name:  "NoExecute taint evicts, NoSchedule does not",
			ds:    ds,
			nodes: objects(newNode("node-1", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule}), newNode("node-2", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})),
			pods:  []*corev1.Pod{newPod("a", "node-1", ds), newPod("b", "node-2", ds)},
			want:  []string{"delete b"},
		},
		{
			name:  "extra pods on a node: newest deleted",
			ds:    ds,
			nodes: nodes(1),
			pods: []*corev1.Pod{
				newPod("old", "node-1", ds, createdAt(t0.Add(-2*time.Hour))),
				newPod("mid", "node-1", ds, createdAt(t0.Add(-time.Hour))),
				newPod("new", "node-1", ds, createdAt(t0)),
			},
			want: []string{"delete mid", "delete new"},
		},
		{
			name:  "succeeded pod deleted",
			ds:    ds,
			nodes: nodes(1),
			pods:  []*corev1.Pod{newPod("a", "node-1", ds, inPhase(corev1.PodSucceeded))},
			want:  []string{"delete a"},
		},
		{
			name:  "terminating pod neither deleted nor replaced",
			ds:    ds,
			nodes: nodes(1),
			pods:  []*corev1.Pod{newPod("a", "node-1", ds, terminating())},
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
			if diff := cmp.Diff(tc.want, f.podActions()); diff != "" {
				t.Errorf("pod actions (-want +got):\n%s", diff)
			}
			for _, a := range f.client.Actions() {
				if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
					if opts := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions(); opts.Preconditions == nil || opts.Preconditions.UID == nil {
						t.Errorf("delete of %v without UID precondition", a)
					}
				}
			}
		})
	}
}

func TestSyncFailedPodBackoff(t *testing.T) {
	ds := newDS()
	f := newFixture(t, objects(ds, nodes(1), newPod("a", "node-1", ds, inPhase(corev1.PodFailed)))...)

	// First failure: deleted at once, with a FailedDaemonPod event.
	f.sync("default/agent")
	if diff := cmp.Diff([]string{"delete a"}, f.podActions()); diff != "" {
		t.Fatalf("first sync pod actions (-want +got):\n%s", diff)
	}
	if got, want := f.eventReasons(), []string{"Normal SuccessfulDelete", "Warning FailedDaemonPod"}; !cmp.Equal(got, want) {
		t.Errorf("events = %q; want %q", got, want)
	}
	f.actions()

	// The deletion is observed: the pod is recreated.
	f.observe()
	f.sync("default/agent")
	if diff := cmp.Diff([]string{"create node-1"}, f.podActions()); diff != "" {
		t.Fatalf("second sync pod actions (-want +got):\n%s", diff)
	}
	f.actions()
	f.observe()

	// The new pod fails at once: it is kept during the back-off, with a requeue.
	pod := f.storedPods()[0].DeepCopy()
	pod.Status.Phase = corev1.PodFailed
	pod.ResourceVersion = "8"
	if err := f.client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, "default"); err != nil {
		t.Fatal(err)
	}
	f.observe()
	f.sync("default/agent")
	if got := f.podActions(); len(got) != 0 {
		t.Errorf("pod actions during back-off = %q; want none", got)
	}
	if got := f.requeues["default/agent"]; got != FailedPodBackoffInitial {
		t.Errorf("requeue = %v; want %v", got, FailedPodBackoffInitial)
	}

	// After the back-off it is deleted.
	f.clock.Step(FailedPodBackoffInitial + time.Millisecond)
	f.sync("default/agent")
	if diff := cmp.Diff([]string{"delete " + pod.Name}, f.podActions()); diff != "" {
		t.Errorf("pod actions after back-off (-want +got):\n%s", diff)
	}
}

func TestSyncExpectationsBlockDuplicateCreates(t *testing.T) {
	tests := []struct {
		name        string
		observe     bool
		advance     time.Duration
		wantCreates int
	}{
		{name: "creations not yet observed: no double create", wantCreates: 0},
		{name: "creations observed: nothing left to create", observe: true, wantCreates: 0},
		{name: "expectations expired: stale cache acted on", advance: 6 * time.Minute, wantCreates: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, objects(newDS(), nodes(2))...)
			f.sync("default/agent")
			if got := len(f.podActions()); got != 2 {
				t.Fatalf("first sync created %d pods; want 2", got)
			}
			f.client.ClearActions()
			if tc.observe {
				f.observe()
			}
			f.clock.Step(tc.advance)
			f.sync("default/agent")
			if got := len(f.podActions()); got != tc.wantCreates {
				t.Errorf("second sync created %d pods; want %d", got, tc.wantCreates)
			}
		})
	}
}

func TestSyncAdoptsOrphans(t *testing.T) {
	ds := newDS()
	orphan := newPod("orphan", "node-1", ds)
	orphan.OwnerReferences = nil
	f := newFixture(t, objects(ds, nodes(1), orphan)...)
	f.sync("default/agent")
	got := f.actions()
	want := []string{"create controllerrevisions agent-" + hashOf(ds), "get daemonsets agent", "patch pods orphan", "update daemonsets/status agent"}
	if !cmp.Equal(got, want) {
		t.Errorf("actions = %q; want %q", got, want)
	}
}
