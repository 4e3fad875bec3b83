package replicaset

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestSyncScaleUpFromZero(t *testing.T) {
	rs := newRS("web", 3)
	f := newFixture(t, rs)
	f.sync("default/web")

	wantActions := []string{
		"create pods web-*", "create pods web-*", "create pods web-*",
		"update replicasets/status web",
	}
	if got := f.actions(); !cmp.Equal(got, wantActions) {
		t.Errorf("actions = %q; want %q", got, wantActions)
	}
	pods := f.storedPods("default")
	if len(pods) != 3 {
		t.Fatalf("stored pods = %d; want 3", len(pods))
	}
	wantRef := []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "web-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	for _, p := range pods {
		if p.GenerateName != "web-" {
			t.Errorf("pod %s generateName = %q; want %q", p.Name, p.GenerateName, "web-")
		}
		if diff := cmp.Diff(rs.Spec.Template.Labels, p.Labels); diff != "" {
			t.Errorf("pod %s labels (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff(rs.Spec.Template.Annotations, p.Annotations); diff != "" {
			t.Errorf("pod %s annotations (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff(wantRef, p.OwnerReferences); diff != "" {
			t.Errorf("pod %s ownerReferences (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff(rs.Spec.Template.Spec, p.Spec); diff != "" {
			t.Errorf("pod %s spec (-want +got):\n%s", p.Name, diff)
		}
	}
	events := f.events()
	if len(events) != 3 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: web-") {
		t.Errorf("events = %q; want 3 × Normal SuccessfulCreate Created pod: web-…", events)
	}
	if adds, dels := f.c.expectations.Pending("default/web"); adds != 3 || dels != 0 {
		t.Errorf("Pending(default/web) = %d, %d; want 3, 0", adds, dels)
	}
	if got := f.storedRS("default", "web").Status.ObservedGeneration; got != 1 {
		t.Errorf("status.observedGeneration = %d; want 1", got)
	}
}

func TestSyncExpectations(t *testing.T) {
	tests := []struct {
		name string
		// observe is how many of the created pods the informer reports before the second sync.
		observe int
		// advance moves the clock before the second sync.
		advance     time.Duration
		wantCreates int
	}{
		{name: "nothing observed: no double create", observe: 0, wantCreates: 0},
		{name: "some observed: still waiting", observe: 2, wantCreates: 0},
		{name: "all observed: in sync, nothing to do", observe: 3, wantCreates: 0},
		{name: "expired after five minutes: act on the cache", observe: 1, advance: 5*time.Minute + time.Second, wantCreates: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newRS("web", 3))
			f.sync("default/web")
			created := f.storedPods("default")
			if len(created) != 3 {
				t.Fatalf("first sync created %d pods; want 3", len(created))
			}
			f.actions()
			for _, p := range created[:tt.observe] {
				f.cache(p)
				f.c.addPod(p)
			}
			f.clock.Step(tt.advance)
			f.sync("default/web")
			creates := 0
			for _, a := range f.actions() {
				if strings.HasPrefix(a, "create pods") {
					creates++
				}
			}
			if creates != tt.wantCreates {
				t.Errorf("second sync creates = %d; want %d", creates, tt.wantCreates)
			}
		})
	}
}

func TestSyncSlowStart(t *testing.T) {
	tests := []struct {
		name         string
		replicas     int32
		succeed      int64 // creations that succeed before every later one fails
		wantAttempts int
		wantPending  int
	}{
		{name: "all succeed", replicas: 10, succeed: 100, wantAttempts: 10, wantPending: 10},
		{name: "first fails: one request only", replicas: 10, succeed: 0, wantAttempts: 1, wantPending: 0},
		{name: "fails in the third batch", replicas: 10, succeed: 3, wantAttempts: 7, wantPending: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newRS("web", tt.replicas))
			var n atomic.Int64
			f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				if n.Add(1) > tt.succeed {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("quota exceeded"))
				}
				return false, nil, nil
			})
			err := f.c.Sync(ctx(t), "default/web")
			if (err != nil) != (tt.succeed < int64(tt.replicas)) {
				t.Errorf("Sync() = %v; want error %v", err, tt.succeed < int64(tt.replicas))
			}
			if got := f.createAttempts(); got != tt.wantAttempts {
				t.Errorf("create attempts = %d; want %d", got, tt.wantAttempts)
			}
			if adds, _ := f.c.expectations.Pending("default/web"); adds != tt.wantPending {
				t.Errorf("pending creations = %d; want %d", adds, tt.wantPending)
			}
		})
	}
}

func TestSyncReplicaFailureCondition(t *testing.T) {
	f := newFixture(t, newRS("web", 2))
	fail := true
	f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if fail {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("quota exceeded"))
		}
		return false, nil, nil
	})
	if err := f.c.Sync(ctx(t), "default/web"); err == nil {
		t.Fatalf("Sync() = nil; want the create error")
	}
	stored := f.storedRS("default", "web")
	cond := replicaSetCondition(stored.Status, appsv1.ReplicaSetReplicaFailure)
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "FailedCreate" {
		t.Fatalf("ReplicaFailure condition = %+v; want True/FailedCreate", cond)
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q; want one Warning FailedCreate", ev)
	}

	// The next successful sync clears the condition.
	fail = false
	f.cache(stored)
	f.sync("default/web")
	if cond := replicaSetCondition(f.storedRS("default", "web").Status, appsv1.ReplicaSetReplicaFailure); cond != nil {
		t.Errorf("ReplicaFailure condition after success = %+v; want none", cond)
	}
}

func TestSyncScaleDownPicksLeastValuablePods(t *testing.T) {
	rs := newRS("web", 2)
	old := t0.Add(-time.Hour)
	tests := []struct {
		name        string
		pods        []*corev1.Pod
		replicas    int32
		wantDeleted []string
	}{
		{
			name: "unscheduled, then pending",
			pods: []*corev1.Pod{
				newPod("running", "web", rs),
				newPod("pending", "web", rs, inPhase(corev1.PodPending), notReady()),
				newPod("unscheduled", "web", rs, onNode(""), inPhase(corev1.PodPending), notReady()),
				newPod("running2", "web", rs, onNode("node-2")),
			},
			replicas:    2,
			wantDeleted: []string{"pending", "unscheduled"},
		},
		{
			name: "not ready, then higher restarts",
			pods: []*corev1.Pod{
				newPod("a", "web", rs, onNode("n1")),
				newPod("b", "web", rs, onNode("n2"), restarts(5)),
				newPod("c", "web", rs, onNode("n3"), notReady()),
			},
			replicas:    1,
			wantDeleted: []string{"b", "c"},
		},
		{
			name: "doubled up on a node, then newest",
			pods: []*corev1.Pod{
				newPod("lonely", "web", rs, onNode("n1")),
				newPod("pair-1", "web", rs, onNode("n2")),
				newPod("pair-2", "web", rs, onNode("n2")),
				newPod("young", "web", rs, onNode("n3"), createdAt(t0.Add(-time.Second)), readyAt(old)),
			},
			replicas:    2,
			wantDeleted: []string{"pair-1", "pair-2"},
		},
		{
			name: "deletion cost wins over readiness time",
			pods: []*corev1.Pod{
				newPod("cheap", "web", rs, onNode("n1"), deletionCostOf("-10")),
				newPod("recent", "web", rs, onNode("n2"), readyAt(t0.Add(-time.Second))),
			},
			replicas:    1,
			wantDeleted: []string{"cheap"},
		},
		{
			name: "scale to zero deletes all",
			pods: []*corev1.Pod{
				newPod("a", "web", rs, onNode("n1")),
				newPod("b", "web", rs, onNode("n2")),
			},
			replicas:    0,
			wantDeleted: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rs.DeepCopy()
			r.Spec.Replicas = ptr.To(tt.replicas)
			objs := []runtime.Object{r}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			f.sync("default/web")
			var deleted []string
			for _, a := range f.client.Actions() {
				if d, ok := a.(k8stesting.DeleteAction); ok {
					deleted = append(deleted, d.GetName())
					if p := d.GetDeleteOptions().Preconditions; p == nil || p.UID == nil || string(*p.UID) != d.GetName()+"-uid" {
						t.Errorf("delete %s preconditions = %+v; want the pod's UID", d.GetName(), p)
					}
				}
			}
			slicesSort(deleted)
			if !cmp.Equal(deleted, tt.wantDeleted) {
				t.Errorf("deleted = %q; want %q", deleted, tt.wantDeleted)
			}
			if _, dels := f.c.expectations.Pending("default/web"); dels != len(tt.wantDeleted) {
				t.Errorf("pending deletions = %d; want %d", dels, len(tt.wantDeleted))
			}
			// Until the informer reports the deletions, nothing more is deleted.
			f.client.ClearActions()
			f.sync("default/web")
			for _, a := range f.actions() {
				if strings.HasPrefix(a, "delete") {
					t.Errorf("second sync: %s; want no delete before the informer catches up", a)
				}
			}
		})
	}
}

func TestSyncClaimsPods(t *testing.T) {
	rs := newRS("web", 2)
	other := newRS("other", 1)
	tests := []struct {
		name        string
		pods        []*corev1.Pod
		wantActions []string
		// wantPatch is the patch body expected for the single patched pod.
		wantPatch string
	}{
		{
			name: "adopts a matching orphan after an uncached recheck",
			pods: []*corev1.Pod{
				newPod("owned", "web", rs),
				newPod("orphan", "web", nil),
			},
			wantActions: []string{"get replicasets web", "patch pods orphan", "update replicasets/status web"},
			wantPatch:   `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"web-uid","controller":true,"blockOwnerDeletion":true}],"uid":"orphan-uid","resourceVersion":"7"}}`,
		},
		{
			name: "releases an owned pod that stopped matching and replaces it",
			pods: []*corev1.Pod{
				newPod("owned", "web", rs),
				newPod("relabelled", "web", rs, withLabels(map[string]string{"app": "debug"})),
			},
			wantActions: []string{"patch pods relabelled", "create pods web-*", "update replicasets/status web"},
			wantPatch:   `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"web-uid"}],"uid":"relabelled-uid","resourceVersion":"7"}}`,
		},
		{
			name: "ignores pods controlled by another owner and terminating orphans",
			pods: []*corev1.Pod{
				newPod("owned-1", "web", rs),
				newPod("owned-2", "web", rs),
				newPod("foreign", "web", other),
				newPod("dying-orphan", "web", nil, terminating()),
			},
			wantActions: []string{"update replicasets/status web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{rs, other}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			f.sync("default/web")
			var patches []string
			for _, a := range f.client.Actions() {
				if p, ok := a.(k8stesting.PatchAction); ok {
					patches = append(patches, string(p.GetPatch()))
					if p.GetPatchType() != "application/strategic-merge-patch+json" {
						t.Errorf("patch type = %s; want strategic merge", p.GetPatchType())
					}
				}
			}
			if got := f.actions(); !cmp.Equal(got, tt.wantActions) {
				t.Errorf("actions = %q; want %q", got, tt.wantActions)
			}
			if tt.wantPatch != "" {
				if len(patches) != 1 || !jsonEqual(t, patches[0], tt.wantPatch) {
					t.Errorf("patches = %q; want [%s]", patches, tt.wantPatch)
				}
			}
		})
	}
}

func TestSyncDoesNotAdoptForDeletedOwner(t *testing.T) {
	rs := newRS("web", 1)
	f := newFixture(t, rs, newPod("orphan", "web", nil))
	// The cache is stale: the ReplicaSet was deleted and recreated under the same name.
	fresh := rs.DeepCopy()
	fresh.UID = "another-uid"
	if err := f.client.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("replicasets"), fresh, "default"); err != nil {
		t.Fatal(err)
	}
	err := f.c.Sync(ctx(t), "default/web")
	if err == nil || !strings.Contains(err.Error(), "ownership: owner is gone") {
		t.Errorf("Sync() = %v; want an ownership.ErrOwnerGone error", err)
	}
	for _, a := range f.actions() {
		if strings.HasPrefix(a, "patch") || strings.HasPrefix(a, "create") {
			t.Errorf("action %s; want no adoption and no create", a)
		}
	}
}

func TestSyncStatus(t *testing.T) {
	rs := newRS("web", 4)
	rs.Spec.MinReadySeconds = 10
	tests := []struct {
		name        string
		pods        []*corev1.Pod
		want        appsv1.ReplicaSetStatus
		wantRequeue time.Duration
	}{
		{
			name: "ready, available, fully labelled",
			pods: []*corev1.Pod{
				newPod("available", "web", rs),
				newPod("just-ready", "web", rs, readyAt(t0.Add(-4*time.Second))),
				newPod("not-ready", "web", rs, notReady()),
				newPod("partly-labelled", "web", rs, withLabels(map[string]string{"app": "web"})),
				newPod("terminating", "web", rs, terminating()),
				newPod("failed", "web", rs, inPhase(corev1.PodFailed)),
			},
			want: appsv1.ReplicaSetStatus{
				Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, ObservedGeneration: 1,
			},
			wantRequeue: 7 * time.Second,
		},
		{
			name: "ready exactly minReadySeconds ago is not yet available",
			pods: []*corev1.Pod{
				newPod("a", "web", rs, readyAt(t0.Add(-10*time.Second))),
				newPod("b", "web", rs), newPod("c", "web", rs), newPod("d", "web", rs),
			},
			want:        appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 3, ObservedGeneration: 1},
			wantRequeue: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{rs}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			f.sync("default/web")
			for _, a := range f.actions() {
				if strings.HasPrefix(a, "create") || strings.HasPrefix(a, "delete") {
					t.Errorf("action %s; want none (terminating and failed pods are not active)", a)
				}
			}
			if diff := cmp.Diff(tt.want, f.storedRS("default", "web").Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got := f.requeues["default/web"]; got != tt.wantRequeue {
				t.Errorf("requeue after = %v; want %v", got, tt.wantRequeue)
			}
		})
	}
}

func TestSyncStatusUnchangedWritesNothing(t *testing.T) {
	rs := newRS("web", 1)
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1}
	f := newFixture(t, rs, newPod("a", "web", rs))
	f.sync("default/web")
	if got := f.actions(); len(got) != 0 {
		t.Errorf("actions = %q; want none", got)
	}
}

func TestSyncDeletedReplicaSet(t *testing.T) {
	f := newFixture(t)
	f.c.expectations.ExpectCreations("default/gone", 3)
	f.sync("default/gone")
	if got := f.actions(); len(got) != 0 {
		t.Errorf("actions = %q; want none", got)
	}
	if adds, _ := f.c.expectations.Pending("default/gone"); adds != 0 {
		t.Errorf("pending creations for a deleted ReplicaSet = %d; want 0", adds)
	}
}

func TestSyncBeingDeletedReplicaSetDoesNotManage(t *testing.T) {
	rs := newRS("web", 3)
	rs.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f := newFixture(t, rs)
	f.sync("default/web")
	for _, a := range f.actions() {
		if strings.HasPrefix(a, "create") {
			t.Errorf("action %s; want no create for a ReplicaSet being deleted", a)
		}
	}
}

func TestPodNamePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "web", want: "web-"},
		{in: "web-6d4f8b7c9", want: "web-6d4f8b7c9-"},
		{in: "Not_A_DNS_Name", want: "Not_A_DNS_Name"},
	}
	for _, tt := range tests {
		if got := podNamePrefix(tt.in); got != tt.want {
			t.Errorf("podNamePrefix(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("bad JSON %s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	return cmp.Equal(x, y)
}
