package daemonset

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/capstan-io/capstan/controllers/internal/history"
)

// currentRevision returns the revision ds's controller records for its
// current template, numbered n.
func currentRevision(t *testing.T, ds *appsv1.DaemonSet, n int64) *appsv1.ControllerRevision {
	t.Helper()
	data, err := history.TemplatePatch(&ds.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	r := history.NewRevision(ds, controllerKind, ds.Spec.Template.Labels, hashOf(ds), data)
	r.Revision = n
	r.UID = types.UID(r.Name + "-uid")
	r.ResourceVersion = "3"
	return r
}

func TestSyncRecordsRevision(t *testing.T) {
	ds := newDS()
	ds.Annotations = map[string]string{"kubernetes.io/change-cause": "kubectl apply"}
	f := newFixture(t, objects(ds, nodes(1))...)
	f.sync("default/agent")

	revs := f.storedRevisions()
	if len(revs) != 1 {
		t.Fatalf("revisions = %d; want 1", len(revs))
	}
	r := revs[0]
	if want := "agent-" + hashOf(ds); r.Name != want || r.Revision != 1 {
		t.Errorf("revision = %s #%d; want %s #1", r.Name, r.Revision, want)
	}
	if got := r.Labels[appsv1.ControllerRevisionHashLabelKey]; got != hashOf(ds) {
		t.Errorf("hash label = %q; want %q", got, hashOf(ds))
	}
	if got := r.Annotations["kubernetes.io/change-cause"]; got != "kubectl apply" {
		t.Errorf("change-cause = %q; want %q", got, "kubectl apply")
	}
	if ref := r.OwnerReferences; len(ref) != 1 || ref[0].UID != ds.UID || ref[0].Controller == nil || !*ref[0].Controller {
		t.Errorf("ownerReferences = %+v; want a controller reference to %s", ref, ds.UID)
	}

	// The data is the patch kubectl rollout undo sends: applied to a
	// DaemonSet with another template, it restores this one.
	var top map[string]map[string]map[string]any
	if err := json.Unmarshal(r.Data.Raw, &top); err != nil {
		t.Fatalf("data %s: %v", r.Data.Raw, err)
	}
	if got := top["spec"]["template"]["$patch"]; got != "replace" {
		t.Errorf(`data.spec.template["$patch"] = %v; want "replace"`, got)
	}
	changed := withDS(image("agent:9"), func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}
	})
	raw, err := json.Marshal(changed)
	if err != nil {
		t.Fatal(err)
	}
	undone, err := strategicpatch.StrategicMergePatch(raw, r.Data.Raw, &appsv1.DaemonSet{})
	if err != nil {
		t.Fatalf("applying revision data: %v", err)
	}
	var got appsv1.DaemonSet
	if err := json.Unmarshal(undone, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ds.Spec.Template, got.Spec.Template); diff != "" {
		t.Errorf("template after undo (-want +got):\n%s", diff)
	}
}

func TestSyncRevisionNumbers(t *testing.T) {
	v1 := newDS()
	tests := []struct {
		name string
		ds   *appsv1.DaemonSet
		revs []*appsv1.ControllerRevision
		want map[string]int64
	}{
		{
			name: "new template gets the next number",
			ds:   v2(),
			revs: []*appsv1.ControllerRevision{currentRevision(t, v1, 1)},
			want: map[string]int64{"agent-" + hashOf(v1): 1, "agent-" + hashOf(v2()): 2},
		},
		{
			name: "undo to an old template reuses and renumbers its revision",
			ds:   v1,
			revs: []*appsv1.ControllerRevision{currentRevision(t, v1, 1), currentRevision(t, v2(), 2)},
			want: map[string]int64{"agent-" + hashOf(v1): 3, "agent-" + hashOf(v2()): 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := objects(tc.ds, nodes(1))
			for _, r := range tc.revs {
				objs = append(objs, r)
			}
			f := newFixture(t, objs...)
			f.sync("default/agent")
			got := map[string]int64{}
			for _, r := range f.storedRevisions() {
				got[r.Name] = r.Revision
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncTruncatesHistory(t *testing.T) {
	ds := withDS(image("agent:current"))
	ds.Spec.RevisionHistoryLimit = new(int32)
	*ds.Spec.RevisionHistoryLimit = 2
	objs := objects(ds, nodes(2))
	var live *appsv1.DaemonSet
	for i := 1; i <= 5; i++ {
		old := withDS(image(fmt.Sprintf("agent:%d", i)))
		if i == 1 {
			live = old
		}
		objs = append(objs, currentRevision(t, old, int64(i)))
	}
	objs = append(objs, currentRevision(t, ds, 6))
	// A pod still runs revision 1: its revision is kept.
	objs = append(objs, newPod("p1", "node-1", live), newPod("p2", "node-2", ds))
	f := newFixture(t, objs...)
	f.sync("default/agent")

	var got []int64
	for _, r := range f.storedRevisions() {
		got = append(got, r.Revision)
	}
	if diff := cmp.Diff([]int64{1, 5, 6}, got); diff != "" {
		t.Errorf("revisions left (-want +got):\n%s", diff)
	}
}

func TestSyncHashCollisionBumpsCollisionCount(t *testing.T) {
	ds := newDS()
	// Another template's revision already holds the name this template hashes to.
	taken := currentRevision(t, withDS(image("other")), 1)
	taken.Name = "agent-" + hashOf(ds)
	taken.Labels[appsv1.ControllerRevisionHashLabelKey] = hashOf(ds)
	f := newFixture(t, objects(ds, nodes(1), taken)...)

	err := f.c.Sync(ctx(t), "default/agent")
	if !errors.Is(err, history.ErrHashCollision) {
		t.Fatalf("Sync = %v; want %v", err, history.ErrHashCollision)
	}
	got := f.storedDS("agent").Status.CollisionCount
	if got == nil || *got != 1 {
		t.Fatalf("status.collisionCount = %v; want 1", got)
	}
	if n := len(f.podActions()); n != 0 {
		t.Errorf("pod actions = %d; want none before the revision exists", n)
	}

	// With the bumped count the template hashes to a free name.
	f.cache(f.storedDS("agent"))
	f.sync("default/agent")
	if revs := f.storedRevisions(); len(revs) != 2 || revs[1].Revision != 2 || revs[1].Name == taken.Name {
		t.Errorf("revisions after the bump = %d; want the taken one and a new one numbered 2", len(revs))
	}
}
