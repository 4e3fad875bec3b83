package history

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func owner() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{
		Name: "agent", Namespace: "default", UID: "agent-uid",
		Annotations: map[string]string{"kubernetes.io/change-cause": "v1"},
	}}
}

// revision builds the revision of owner() for image with the given number.
func revision(t *testing.T, image string, number int64) *appsv1.ControllerRevision {
	t.Helper()
	tmpl := template(image)
	data, err := TemplatePatch(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRevision(owner(), kind, tmpl.Labels, HashTemplate(tmpl, nil), data)
	r.Revision = number
	r.UID = types.UID(r.Name + "-uid")
	return r
}

func TestHashTemplate(t *testing.T) {
	tests := []struct {
		name      string
		a, b      *corev1.PodTemplateSpec
		ca, cb    *int32
		wantEqual bool
	}{
		{name: "equal templates", a: template("nginx:1"), b: template("nginx:1"), wantEqual: true},
		{name: "different image", a: template("nginx:1"), b: template("nginx:2")},
		{name: "collision count changes hash", a: template("nginx:1"), b: template("nginx:1"), cb: ptr.To[int32](1)},
		{name: "equal collision counts", a: template("nginx:1"), b: template("nginx:1"), ca: ptr.To[int32](2), cb: ptr.To[int32](2), wantEqual: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ha, hb := HashTemplate(tc.a, tc.ca), HashTemplate(tc.b, tc.cb)
			if ha == "" || hb == "" {
				t.Fatalf("empty hash: %q, %q", ha, hb)
			}
			if (ha == hb) != tc.wantEqual {
				t.Errorf("hashes %q, %q: equal = %v; want %v", ha, hb, ha == hb, tc.wantEqual)
			}
		})
	}
}

func TestTemplatePatch(t *testing.T) {
	data, err := TemplatePatch(template("nginx:1"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("patch %s is not JSON: %v", data, err)
	}
	want := map[string]any{"spec": map[string]any{"template": map[string]any{
		"$patch":   "replace",
		"metadata": map[string]any{"creationTimestamp": nil, "labels": map[string]any{"app": "agent"}},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "image": "nginx:1", "resources": map[string]any{}}},
		},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
	again, _ := TemplatePatch(template("nginx:1"))
	if string(again) != string(data) {
		t.Errorf("patch not stable: %s then %s", data, again)
	}
}

func TestName(t *testing.T) {
	long := string(make([]byte, 300))
	tests := []struct {
		owner, hash string
		wantLen     int
	}{
		{owner: "agent", hash: "abc", wantLen: len("agent-abc")},
		{owner: long, hash: "abc", wantLen: maxPrefixLength + 4},
	}
	for _, tc := range tests {
		if got := Name(tc.owner, tc.hash); len(got) != tc.wantLen {
			t.Errorf("len(Name(%d chars, %q)) = %d; want %d", len(tc.owner), tc.hash, len(got), tc.wantLen)
		}
	}
}

// stored lists the revisions in client's tracker by name, with their numbers.
func stored(t *testing.T, client *fake.Clientset) map[string]int64 {
	t.Helper()
	list, err := client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range list.Items {
		out[r.Name] = r.Revision
	}
	return out
}

func TestCurrent(t *testing.T) {
	v1, v2, v3 := revision(t, "nginx:1", 1), revision(t, "nginx:2", 2), revision(t, "nginx:3", 3)
	dupV1 := revision(t, "nginx:1", 4)
	dupV1.Name, dupV1.UID = "agent-dup", "dup-uid"
	tests := []struct {
		name     string
		existing []*appsv1.ControllerRevision
		want     *appsv1.ControllerRevision
		wantCur  string
		wantRev  int64
		wantOld  int
		wantLeft map[string]int64
	}{
		{
			name: "first revision created as 1", want: revision(t, "nginx:1", 0),
			wantCur: v1.Name, wantRev: 1,
			wantLeft: map[string]int64{v1.Name: 1},
		},
		{
			name: "new template gets next number", existing: []*appsv1.ControllerRevision{v1, v2}, want: revision(t, "nginx:3", 0),
			wantCur: v3.Name, wantRev: 3, wantOld: 2,
			wantLeft: map[string]int64{v1.Name: 1, v2.Name: 2, v3.Name: 3},
		},
		{
			name: "equal revision reused with number bumped", existing: []*appsv1.ControllerRevision{v1, v2, v3}, want: revision(t, "nginx:1", 0),
			wantCur: v1.Name, wantRev: 4, wantOld: 2,
			wantLeft: map[string]int64{v1.Name: 4, v2.Name: 2, v3.Name: 3},
		},
		{
			name: "newest equal revision unchanged", existing: []*appsv1.ControllerRevision{v1, v2}, want: revision(t, "nginx:2", 0),
			wantCur: v2.Name, wantRev: 2, wantOld: 1,
			wantLeft: map[string]int64{v1.Name: 1, v2.Name: 2},
		},
		{
			name: "duplicates deleted, highest kept", existing: []*appsv1.ControllerRevision{v1, v2, dupV1}, want: revision(t, "nginx:1", 0),
			wantCur: "agent-dup", wantRev: 4, wantOld: 1,
			wantLeft: map[string]int64{"agent-dup": 4, v2.Name: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, r := range tc.existing {
				objs = append(objs, r.DeepCopy())
			}
			client := fake.NewClientset(objs...)
			cur, old, err := NewStore(client.AppsV1()).Current(context.Background(), tc.want, tc.existing)
			if err != nil {
				t.Fatalf("Current: %v", err)
			}
			if cur.Name != tc.wantCur || cur.Revision != tc.wantRev {
				t.Errorf("current = %s rev %d; want %s rev %d", cur.Name, cur.Revision, tc.wantCur, tc.wantRev)
			}
			if len(old) != tc.wantOld {
				t.Errorf("len(old) = %d; want %d", len(old), tc.wantOld)
			}
			if diff := cmp.Diff(tc.wantLeft, stored(t, client)); diff != "" {
				t.Errorf("stored revisions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCurrentCollision(t *testing.T) {
	want := revision(t, "nginx:1", 0)
	taken := revision(t, "nginx:9", 1)
	taken.Name = want.Name
	tests := []struct {
		name     string
		existing *appsv1.ControllerRevision
		wantErr  error
	}{
		{name: "same data created by an earlier sync", existing: revision(t, "nginx:1", 1)},
		{name: "other data under the name", existing: taken, wantErr: ErrHashCollision},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.existing)
			// The cache has not seen the existing revision.
			cur, _, err := NewStore(client.AppsV1()).Current(context.Background(), want, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Current error = %v; want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && cur.Name != want.Name {
				t.Errorf("current = %s; want %s", cur.Name, want.Name)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	var old []*appsv1.ControllerRevision
	var objs []runtime.Object
	for i, img := range []string{"a", "b", "c", "d"} {
		r := revision(t, img, int64(i+1))
		old = append(old, r)
		objs = append(objs, r.DeepCopy())
	}
	tests := []struct {
		name     string
		limit    int
		live     func(*appsv1.ControllerRevision) bool
		wantLeft []int64
	}{
		{name: "under limit", limit: 10, wantLeft: []int64{1, 2, 3, 4}},
		{name: "oldest deleted", limit: 2, wantLeft: []int64{3, 4}},
		{name: "zero keeps none", limit: 0, wantLeft: nil},
		{name: "live revision spared", limit: 2, live: func(r *appsv1.ControllerRevision) bool { return r.Revision == 1 }, wantLeft: []int64{1, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(objs...)
			if err := NewStore(client.AppsV1()).Truncate(context.Background(), old, tc.limit, tc.live); err != nil {
				t.Fatalf("Truncate: %v", err)
			}
			var got []int64
			for _, n := range stored(t, client) {
				got = append(got, n)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.wantLeft, got); diff != "" {
				t.Errorf("revisions left (-want +got):\n%s", diff)
			}
		})
	}
}
