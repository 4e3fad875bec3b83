package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestSyncNewDeploymentCreatesReplicaSet(t *testing.T) {
	d := newDeployment("web", 3, withAnnotation(ChangeCauseAnnotation, "kubectl create deployment web"),
		withAnnotation(corev1.LastAppliedConfigAnnotation, "{}"))
	f := newFixture(t, d)
	f.sync("default/web")

	hash := ComputeHash(&d.Spec.Template, nil)
	name := "web-" + hash
	wantActions := []string{
		"create replicasets " + name,
		"update deployments web",        // revision annotation
		"update deployments/status web", // Progressing: NewReplicaSetCreated
		"update deployments/status web", // rollout status
	}
	if got := f.actions(); !cmp.Equal(got, wantActions) {
		t.Errorf("actions = %q; want %q", got, wantActions)
	}

	rs := f.replicaSet(name)
	if got := *rs.Spec.Replicas; got != 3 {
		t.Errorf("spec.replicas = %d; want 3", got)
	}
	wantLabels := map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: hash}
	for what, got := range map[string]map[string]string{
		"labels": rs.Labels, "selector": rs.Spec.Selector.MatchLabels, "template labels": rs.Spec.Template.Labels,
	} {
		if diff := cmp.Diff(wantLabels, got); diff != "" {
			t.Errorf("ReplicaSet %s (-want +got):\n%s", what, diff)
		}
	}
	wantAnnotations := map[string]string{
		RevisionAnnotation:        "1",
		DesiredReplicasAnnotation: "3",
		MaxReplicasAnnotation:     "4",
		ChangeCauseAnnotation:     "kubectl create deployment web",
	}
	if diff := cmp.Diff(wantAnnotations, rs.Annotations); diff != "" {
		t.Errorf("ReplicaSet annotations (-want +got):\n%s", diff)
	}
	wantRef := []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "web-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	if diff := cmp.Diff(wantRef, rs.OwnerReferences); diff != "" {
		t.Errorf("ReplicaSet ownerReferences (-want +got):\n%s", diff)
	}

	got := f.deployment("web")
	if rev := got.Annotations[RevisionAnnotation]; rev != "1" {
		t.Errorf("Deployment revision = %q; want 1", rev)
	}
	if got.Status.ObservedGeneration != 1 {
		t.Errorf("status.observedGeneration = %d; want 1", got.Status.ObservedGeneration)
	}
	if c := getCondition(got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewReplicaSet || c.Status != corev1.ConditionTrue {
		t.Errorf("Progressing = %+v; want True/%s", c, ReasonNewReplicaSet)
	}
	if c := getCondition(got.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("Available = %+v; want False", c)
	}
	wantEvents := []string{"Normal ScalingReplicaSet Scaled up replica set " + name + " from 0 to 3"}
	if diff := cmp.Diff(wantEvents, f.events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// Once the pods are available the rollout completes.
	f.catchUp("web")
	f.settle(true)
	f.sync("default/web")
	got = f.deployment("web")
	wantStatus := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	gotCounts := got.Status
	gotCounts.Conditions = nil
	if diff := cmp.Diff(wantStatus, gotCounts); diff != "" {
		t.Errorf("status counts (-want +got):\n%s", diff)
	}
	if c := getCondition(got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewRSAvailable {
		t.Errorf("Progressing = %+v; want %s", c, ReasonNewRSAvailable)
	}
	if c := getCondition(got.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Available = %+v; want True", c)
	}
}

// startRollout returns a fixture holding a complete revision-1 rollout of d
// and d's template changed to image (generation 2).
func startRollout(t *testing.T, d *appsv1.Deployment, image string) (*fixture, *appsv1.ReplicaSet) {
	t.Helper()
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	rs1 := rsFor(d, *d.Spec.Replicas, "1", time.Hour)
	f := newFixture(t, d, rs1)
	next := d.DeepCopy()
	next.Spec.Template.Spec.Containers[0].Image = image
	next.Generation = 2
	f.store(next)
	return f, rs1
}

func TestSyncTemplateChangeRollsOut(t *testing.T) {
	d := newDeployment("web", 4, withRolling(intstr.FromInt32(1), intstr.FromInt32(1)))
	f, rs1 := startRollout(t, d, "nginx:2.0")
	f.sync("default/web")

	rss := f.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("ReplicaSets = %v; want 2", f.sizes())
	}
	rs2 := rss[1]
	if got := rs2.Annotations[RevisionAnnotation]; got != "2" {
		t.Errorf("new ReplicaSet revision = %q; want 2", got)
	}
	// The first step: surge one new pod, and drop one old pod within maxUnavailable.
	want := []string{rs1.Name + "=3", rs2.Name + "=1"}
	if diff := cmp.Diff(want, f.sizes()); diff != "" {
		t.Errorf("sizes after the first sync (-want +got):\n%s", diff)
	}
	if got := f.deployment("web").Annotations[RevisionAnnotation]; got != "2" {
		t.Errorf("Deployment revision = %q; want 2", got)
	}
	wantEvents := []string{
		"Normal ScalingReplicaSet Scaled up replica set " + rs2.Name + " from 0 to 1",
		"Normal ScalingReplicaSet Scaled down replica set " + rs1.Name + " from 4 to 3",
	}
	if diff := cmp.Diff(wantEvents, f.events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// The new pod is not available yet: the new ReplicaSet grows to the surge
	// limit, and the old one cannot shrink further.
	f.catchUp("web")
	f.settle(false)
	f.sync("default/web")
	f.catchUp("web")
	f.settle(false)
	f.sync("default/web")
	want = []string{rs1.Name + "=3", rs2.Name + "=2"}
	if diff := cmp.Diff(want, f.sizes()); diff != "" {
		t.Errorf("sizes while the new pods are unavailable (-want +got):\n%s", diff)
	}
}

func TestSyncRollbackRenumbersOldReplicaSet(t *testing.T) {
	d := newDeployment("web", 2)
	rev1 := d.DeepCopy()
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2.0"
	d.Annotations = map[string]string{RevisionAnnotation: "2"}
	d.Generation = 2
	rs1 := rsFor(rev1, 0, "1", 2*time.Hour)
	rs2 := rsFor(d, 2, "2", time.Hour)
	f := newFixture(t, d, rs1, rs2)

	// kubectl rollout undo: the template goes back to revision 1's.
	undo := d.DeepCopy()
	undo.Spec.Template = *rev1.Spec.Template.DeepCopy()
	undo.Generation = 3
	f.store(undo)
	f.sync("default/web")

	if n := len(f.replicaSets()); n != 2 {
		t.Errorf("ReplicaSets = %v; want the two existing ones, none created", f.sizes())
	}
	got := f.replicaSet(rs1.Name)
	if got.Annotations[RevisionAnnotation] != "3" || got.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("old ReplicaSet revision, history = %q, %q; want 3, 1", got.Annotations[RevisionAnnotation], got.Annotations[RevisionHistoryAnnotation])
	}
	for _, a := range f.actions() {
		if strings.HasPrefix(a, "create") {
			t.Errorf("action %s; want no create on rollback", a)
		}
	}

	// The renumbered ReplicaSet is the new one: the rollout proceeds and the
	// Deployment takes its revision.
	f.catchUp("web")
	f.sync("default/web")
	if rev := f.deployment("web").Annotations[RevisionAnnotation]; rev != "3" {
		t.Errorf("Deployment revision = %q; want 3", rev)
	}
	if n := *f.replicaSet(rs1.Name).Spec.Replicas; n == 0 {
		t.Errorf("rolled-back ReplicaSet replicas = 0; want it scaled up")
	}
}

func TestSyncCleansUpRevisionHistory(t *testing.T) {
	d := newDeployment("web", 2)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](2)
	d.Annotations = map[string]string{RevisionAnnotation: "6"}
	objs := []runtime.Object{}
	var names []string
	for i := 1; i <= 5; i++ {
		old := d.DeepCopy()
		old.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("nginx:0.%d", i)
		rs := rsFor(old, 0, fmt.Sprint(i), time.Duration(10-i)*time.Hour)
		if i == 2 {
			// Still scaling down: never deleted.
			rs.Status.Replicas = 1
		}
		names = append(names, rs.Name)
		objs = append(objs, rs)
	}
	cur := rsFor(d, 2, "6", time.Hour)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	objs = append(objs, d, cur)
	f := newFixture(t, objs...)
	f.sync("default/web")

	var deleted []string
	for _, a := range f.client.Actions() {
		if del, ok := a.(k8stesting.DeleteAction); ok {
			deleted = append(deleted, del.GetName())
			if p := del.GetDeleteOptions().Preconditions; p == nil || p.UID == nil || string(*p.UID) != del.GetName()+"-uid" {
				t.Errorf("delete %s preconditions = %+v; want the ReplicaSet's UID", del.GetName(), p)
			}
		}
	}
	// Five old ReplicaSets, limit two: revisions 1-3 go, except 2 which still has a pod.
	want := []string{names[0], names[2]}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}

func TestSyncPausedDoesNotRollOut(t *testing.T) {
	d := newDeployment("web", 3, paused())
	f, rs1 := startRollout(t, d, "nginx:2.0")
	f.sync("default/web")

	if n := len(f.replicaSets()); n != 1 {
		t.Errorf("ReplicaSets = %v; want no new one while paused", f.sizes())
	}
	c := getCondition(f.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != ReasonPaused {
		t.Errorf("Progressing = %+v; want Unknown/%s", c, ReasonPaused)
	}

	// Scaling still happens while paused.
	f.catchUp("web")
	scaled := f.deployment("web")
	scaled.Spec.Replicas = ptr.To[int32](5)
	f.store(scaled)
	f.sync("default/web")
	if got := *f.replicaSet(rs1.Name).Spec.Replicas; got != 5 {
		t.Errorf("paused scale: ReplicaSet replicas = %d; want 5", got)
	}

	// Resuming starts the rollout.
	f.catchUp("web")
	resumed := f.deployment("web")
	resumed.Spec.Paused = false
	f.store(resumed)
	f.sync("default/web")
	if n := len(f.replicaSets()); n != 2 {
		t.Errorf("ReplicaSets after resume = %v; want a new one", f.sizes())
	}
	c = getCondition(f.deployment("web").Status, appsv1.DeploymentProgressing)
	if c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Progressing after resume = %+v; want True", c)
	}
}

func TestSyncRecreateScalesOldDownFirst(t *testing.T) {
	d := newDeployment("web", 3, recreate())
	f, rs1 := startRollout(t, d, "nginx:2.0")
	oldPod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "old-pod", Namespace: "default", Labels: rs1.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs1, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	f.cache(oldPod)

	// Step 1: the old ReplicaSet goes to zero; no new ReplicaSet yet.
	f.sync("default/web")
	if diff := cmp.Diff([]string{rs1.Name + "=0"}, f.sizes()); diff != "" {
		t.Errorf("sizes after step 1 (-want +got):\n%s", diff)
	}
	// Step 2: an old pod is still running: wait.
	f.catchUp("web")
	f.sync("default/web")
	if n := len(f.replicaSets()); n != 1 {
		t.Errorf("ReplicaSets = %v; want no new one while an old pod runs", f.sizes())
	}
	// Step 3: the old pods are gone: the new ReplicaSet is created at full size.
	if err := f.podStore.Delete(oldPod); err != nil {
		t.Fatal(err)
	}
	f.settle(true)
	f.catchUp("web")
	f.sync("default/web")
	rss := f.replicaSets()
	if len(rss) != 2 || *rss[1].Spec.Replicas != 3 || rss[1].Annotations[RevisionAnnotation] != "2" {
		t.Errorf("ReplicaSets after step 3 = %v; want a new one of 3 at revision 2", f.sizes())
	}
}

func TestSyncProgressDeadline(t *testing.T) {
	tests := []struct {
		name        string
		elapsed     time.Duration
		wantReason  string
		wantStatus  corev1.ConditionStatus
		wantRequeue time.Duration
	}{
		{name: "before the deadline: requeue for the check", elapsed: 400 * time.Second, wantReason: ReasonReplicaSetUpdated, wantStatus: corev1.ConditionTrue, wantRequeue: 201 * time.Second},
		{name: "past the deadline", elapsed: 601 * time.Second, wantReason: ReasonTimedOut, wantStatus: corev1.ConditionFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment("web", 2, withImage("nginx:broken"))
			d.Annotations = map[string]string{RevisionAnnotation: "2"}
			old := d.DeepCopy()
			old.Spec.Template.Spec.Containers[0].Image = "nginx:1.0"
			rs1 := rsFor(old, 1, "1", 2*time.Hour)
			rs2 := rsFor(d, 2, "2", time.Hour)
			rs2.Status = appsv1.ReplicaSetStatus{Replicas: 2} // never becomes ready
			progressing := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonReplicaSetUpdated, "ReplicaSet is progressing.", t0)
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{
					newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability.", t0),
					progressing,
				},
			}
			f := newFixture(t, d, rs1, rs2)
			f.clock.Step(tt.elapsed)
			f.sync("default/web")

			c := getCondition(f.deployment("web").Status, appsv1.DeploymentProgressing)
			if c == nil || c.Reason != tt.wantReason || c.Status != tt.wantStatus {
				t.Errorf("Progressing = %+v; want %s/%s", c, tt.wantStatus, tt.wantReason)
			}
			if tt.wantReason == ReasonTimedOut {
				if want := fmt.Sprintf("ReplicaSet %q has timed out progressing.", rs2.Name); c.Message != want {
					t.Errorf("Progressing message = %q; want %q", c.Message, want)
				}
			}
			if got := f.requeues["default/web"]; got != tt.wantRequeue {
				t.Errorf("requeue after = %v; want %v", got, tt.wantRequeue)
			}
		})
	}
}

func TestSyncProportionalScaling(t *testing.T) {
	tests := []struct {
		name             string
		replicas         int32
		oldSize, newSize int32
		wantOld, wantNew int32
	}{
		{name: "scale up mid-rollout", replicas: 20, oldSize: 8, newSize: 5, wantOld: 14, wantNew: 9},
		{name: "scale down mid-rollout", replicas: 5, oldSize: 8, newSize: 5, wantOld: 5, wantNew: 3},
		{name: "scale to zero", replicas: 0, oldSize: 8, newSize: 5, wantOld: 0, wantNew: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A rollout of 10 replicas with maxSurge 3, maxUnavailable 2, in flight.
			d := newDeployment("web", 10, withRolling(intstr.FromInt32(3), intstr.FromInt32(2)))
			d.Annotations = map[string]string{RevisionAnnotation: "2"}
			old := d.DeepCopy()
			old.Spec.Template.Spec.Containers[0].Image = "nginx:0.9"
			rs1 := rsFor(old, tt.oldSize, "1", 2*time.Hour)
			rs2 := rsFor(d, tt.newSize, "2", time.Hour)
			rs1.Annotations[MaxReplicasAnnotation] = "13"
			rs2.Annotations[MaxReplicasAnnotation] = "13"
			f := newFixture(t, d, rs1, rs2)

			scaled := d.DeepCopy()
			scaled.Spec.Replicas = ptr.To(tt.replicas)
			f.store(scaled)
			f.sync("default/web")

			want := []string{fmt.Sprintf("%s=%d", rs1.Name, tt.wantOld), fmt.Sprintf("%s=%d", rs2.Name, tt.wantNew)}
			if diff := cmp.Diff(want, f.sizes()); diff != "" {
				t.Errorf("sizes (-want +got):\n%s", diff)
			}
			for _, rs := range f.replicaSets() {
				if got := rs.Annotations[DesiredReplicasAnnotation]; got != fmt.Sprint(tt.replicas) {
					t.Errorf("%s desired-replicas = %s; want %d", rs.Name, got, tt.replicas)
				}
			}
		})
	}
}

func TestSyncHashCollisionBumpsCollisionCount(t *testing.T) {
	d := newDeployment("web", 1)
	// Another ReplicaSet, with another template, already has the name.
	squatter := rsFor(d, 1, "1", time.Hour)
	squatter.OwnerReferences = nil
	squatter.Labels = map[string]string{"app": "other"}
	squatter.Spec.Template.Spec.Containers[0].Image = "other"
	f := newFixture(t, d, squatter)

	if err := f.c.Sync(f.ctx(), "default/web"); err == nil {
		t.Fatalf("Sync() = nil; want the AlreadyExists error")
	}
	got := f.deployment("web").Status.CollisionCount
	if got == nil || *got != 1 {
		t.Fatalf("collisionCount = %v; want 1", got)
	}
	// The next sync uses a new hash and succeeds.
	f.catchUp("web")
	f.sync("default/web")
	want := "web-" + ComputeHash(&d.Spec.Template, ptr.To[int32](1))
	if rs := f.replicaSet(want); *rs.Spec.Replicas != 1 {
		t.Errorf("ReplicaSet %s replicas = %d; want 1", want, *rs.Spec.Replicas)
	}
}

func TestSyncAdoptsOrphanReplicaSet(t *testing.T) {
	d := newDeployment("web", 2)
	orphan := rsFor(d, 2, "1", time.Hour)
	orphan.OwnerReferences = nil
	f := newFixture(t, d, orphan)
	f.sync("default/web")
	got := f.actions()
	if len(got) < 2 || got[0] != "get deployments web" || got[1] != "patch replicasets "+orphan.Name {
		t.Errorf("actions = %q; want a recheck GET then the adoption patch first", got)
	}
	for _, a := range got {
		if strings.HasPrefix(a, "create") {
			t.Errorf("action %s; want the adopted ReplicaSet reused", a)
		}
	}
}

func TestSyncSelectingAll(t *testing.T) {
	d := newDeployment("web", 1)
	d.Spec.Selector = &metav1.LabelSelector{}
	f := newFixture(t, d)
	f.sync("default/web")
	if got, want := f.actions(), []string{"update deployments/status web"}; !cmp.Equal(got, want) {
		t.Errorf("actions = %q; want %q", got, want)
	}
	if ev := f.events(); len(ev) != 1 || !strings.Contains(ev[0], "SelectingAll") {
		t.Errorf("events = %q; want one SelectingAll warning", ev)
	}
}

func TestComputeHash(t *testing.T) {
	template := newDeployment("web", 1).Spec.Template
	other := *template.DeepCopy()
	other.Spec.Containers[0].Image = "nginx:1.1"
	tests := []struct {
		name      string
		template  corev1.PodTemplateSpec
		collision *int32
		want      string
	}{
		{name: "golden", template: template, want: "6ff4974868"},
		{name: "golden with collisionCount 1", template: template, collision: ptr.To[int32](1), want: "5786798d85"},
		{name: "another template", template: other, want: "5bc7d69885"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeHash(&tt.template, tt.collision)
			if got != tt.want {
				t.Errorf("ComputeHash() = %q; want %q", got, tt.want)
			}
			if again := ComputeHash(tt.template.DeepCopy(), tt.collision); again != got {
				t.Errorf("ComputeHash() is not stable: %q then %q", got, again)
			}
		})
	}
}
