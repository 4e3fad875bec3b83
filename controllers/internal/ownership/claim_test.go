package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var rsKind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}

func owner(deleting bool) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "owner-uid"}
	if deleting {
		m.DeletionTimestamp = ptr.To(metav1.Now())
	}
	return m
}

// object returns a pod labelled app=app, controlled by controllerUID when set.
func object(name, app string, controllerUID types.UID, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", UID: types.UID(name + "-uid"), ResourceVersion: "42",
		Labels: map[string]string{"app": app},
	}}
	if controllerUID != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: controllerUID, Controller: ptr.To(true)}}
	}
	if deleting {
		p.DeletionTimestamp = ptr.To(metav1.Now())
	}
	return p
}

func TestClaimer(t *testing.T) {
	gone := errors.New("gone")
	tests := []struct {
		name        string
		owner       *metav1.ObjectMeta
		obj         *corev1.Pod
		recheckErr  error
		patchErr    error
		want        bool
		wantErr     bool
		wantPatches int
	}{
		{name: "owned and matching", owner: owner(false), obj: object("p", "web", "owner-uid", false), want: true},
		{name: "owned by another", owner: owner(false), obj: object("p", "web", "other-uid", false)},
		{name: "owned, not matching: released", owner: owner(false), obj: object("p", "db", "owner-uid", false), wantPatches: 1},
		{name: "owned, not matching, owner deleting: kept as is", owner: owner(true), obj: object("p", "db", "owner-uid", false)},
		{name: "release of a vanished object", owner: owner(false), obj: object("p", "db", "owner-uid", false), patchErr: apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p"), wantPatches: 1},
		{name: "release conflict", owner: owner(false), obj: object("p", "db", "owner-uid", false), patchErr: apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "p", errors.New("rv")), wantPatches: 1, wantErr: true},
		{name: "orphan matching: adopted", owner: owner(false), obj: object("p", "web", "", false), want: true, wantPatches: 1},
		{name: "orphan not matching", owner: owner(false), obj: object("p", "db", "", false)},
		{name: "orphan being deleted", owner: owner(false), obj: object("p", "web", "", true)},
		{name: "orphan, owner deleting", owner: owner(true), obj: object("p", "web", "", false)},
		{name: "orphan, recheck fails", owner: owner(false), obj: object("p", "web", "", false), recheckErr: gone, wantErr: true},
		{name: "orphan vanished during adoption", owner: owner(false), obj: object("p", "web", "", false), patchErr: apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p"), wantPatches: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patches := 0
			c := NewClaimer(tt.owner, rsKind, labels.SelectorFromSet(labels.Set{"app": "web"}),
				func(context.Context) error { return tt.recheckErr },
				func(_ context.Context, ns, name string, _ []byte) error {
					patches++
					return tt.patchErr
				})
			got, err := c.Claim(context.Background(), tt.obj)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Claim() = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if patches != tt.wantPatches {
				t.Errorf("patches = %d; want %d", patches, tt.wantPatches)
			}
		})
	}
}

func TestClaimAllRechecksOnce(t *testing.T) {
	rechecks := 0
	c := NewClaimer(owner(false), rsKind, labels.SelectorFromSet(labels.Set{"app": "web"}),
		func(context.Context) error { rechecks++; return nil },
		func(context.Context, string, string, []byte) error { return nil })
	objs := []*corev1.Pod{object("a", "web", "", false), object("b", "web", "", false), object("c", "db", "", false)}
	got, err := ClaimAll(context.Background(), c, objs)
	if err != nil || len(got) != 2 || rechecks != 1 {
		t.Errorf("ClaimAll() = %d objects, %v after %d rechecks; want 2, nil after 1", len(got), err, rechecks)
	}
}

func TestPatches(t *testing.T) {
	obj := object("p", "web", "", false)
	adopt, err := AdoptPatch(owner(false), rsKind, obj)
	if err != nil {
		t.Fatal(err)
	}
	release, err := ReleasePatch(owner(false), obj)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{name: "adopt", got: string(adopt), want: `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"owner-uid","controller":true,"blockOwnerDeletion":true}],"uid":"p-uid","resourceVersion":"42"}}`},
		{name: "release", got: string(release), want: `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"owner-uid"}],"uid":"p-uid","resourceVersion":"42"}}`},
	}
	for _, tt := range tests {
		var got, want any
		if err := json.Unmarshal([]byte(tt.got), &got); err != nil {
			t.Fatalf("%s patch is not JSON: %v", tt.name, err)
		}
		if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s patch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestRecheckOwner(t *testing.T) {
	tests := []struct {
		name    string
		fresh   *metav1.ObjectMeta
		wantErr error
	}{
		{name: "same owner", fresh: owner(false)},
		{name: "replaced", fresh: &metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "new-uid"}, wantErr: ErrOwnerGone},
		{name: "being deleted", fresh: owner(true), wantErr: ErrOwnerGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RecheckOwner("owner-uid", func(context.Context) (metav1.Object, error) { return tt.fresh, nil })(context.Background())
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("recheck() = %v; want %v", err, tt.wantErr)
			}
		})
	}
}
