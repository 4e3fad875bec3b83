package history

import (
	"context"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// Store writes the ControllerRevisions of workload controllers through a
// client. It holds no state of its own and is safe for concurrent use; the
// revisions its methods take are read, never modified.
type Store struct {
	client appsclient.ControllerRevisionsGetter
}

// NewStore returns a Store writing through client, usually
// clientset.AppsV1().
func NewStore(client appsclient.ControllerRevisionsGetter) *Store {
	return &Store{client: client}
}

// NewRevision returns (without creating it) the revision of owner, of kind
// kind, whose state is data and whose template hash is hash: named
// Name(owner, hash), labelled with templateLabels plus
// controller-revision-hash=<hash>, annotated with the owner's annotations (so
// kubectl rollout history shows its change-cause) and controlled by owner.
// The revision number is left for Store.Current to choose.
func NewRevision(owner metav1.Object, kind schema.GroupVersionKind, templateLabels map[string]string, hash string, data []byte) *appsv1.ControllerRevision {
	labels := maps.Clone(templateLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[appsv1.ControllerRevisionHashLabelKey] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			Annotations:     maps.Clone(owner.GetAnnotations()),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, kind)},
		},
		Data: runtime.RawExtension{Raw: data},
	}
}

// Current returns the revision among revisions (those the owner controls)
// whose data equals want's, and the others. When several are equal, the one
// with the highest revision number is kept and the rest are deleted. The kept
// revision's number is raised above every other revision's, so that it reads
// as the newest (kubectl rollout undo to an earlier revision makes it current
// again). When none is equal, want is created with the next revision number;
// if its name is taken by a revision with other data, Current returns
// ErrHashCollision.
func (s *Store) Current(ctx context.Context, want *appsv1.ControllerRevision, revisions []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, error) {
	var equal, old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if Equal(r, want) {
			equal = append(equal, r)
		} else {
			old = append(old, r)
		}
	}
	next := MaxRevision(old) + 1
	client := s.client.ControllerRevisions(want.Namespace)
	if len(equal) == 0 {
		cur, err := s.create(ctx, want, next)
		return cur, old, err
	}

	keep := equal[0]
	for _, r := range equal[1:] {
		if r.Revision >= keep.Revision {
			keep = r
		}
	}
	for _, r := range equal {
		if r == keep {
			continue
		}
		if err := s.delete(ctx, r); err != nil {
			return nil, nil, err
		}
	}
	if keep.Revision >= next {
		return keep, old, nil
	}
	bumped := keep.DeepCopy()
	bumped.Revision = next
	updated, err := client.Update(ctx, bumped, metav1.UpdateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("history: raising revision %s/%s to %d: %w", keep.Namespace, keep.Name, next, err)
	}
	return updated, old, nil
}

// create creates want with the given revision number. A revision of that name
// with the same data (created by an earlier sync the cache has not yet seen)
// is returned as if created.
func (s *Store) create(ctx context.Context, want *appsv1.ControllerRevision, revision int64) (*appsv1.ControllerRevision, error) {
	client := s.client.ControllerRevisions(want.Namespace)
	rev := want.DeepCopy()
	rev.Revision = revision
	created, err := client.Create(ctx, rev, metav1.CreateOptions{})
	if err == nil {
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("history: creating revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	existing, getErr := client.Get(ctx, rev.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, fmt.Errorf("history: reading revision %s/%s: %w", rev.Namespace, rev.Name, getErr)
	}
	if Equal(existing, rev) && sameController(existing, rev) {
		return existing, nil
	}
	return nil, fmt.Errorf("%w: revision %s/%s exists with other data", ErrHashCollision, rev.Namespace, rev.Name)
}

// sameController reports whether a and b name the same controller UID.
func sameController(a, b *appsv1.ControllerRevision) bool {
	ra, rb := metav1.GetControllerOfNoCopy(a), metav1.GetControllerOfNoCopy(b)
	return ra != nil && rb != nil && ra.UID == rb.UID
}

// Truncate deletes the oldest of old (the owner's non-current revisions) until
// at most limit remain, skipping those for which live reports true (revisions
// that pods still run). live may be nil.
func (s *Store) Truncate(ctx context.Context, old []*appsv1.ControllerRevision, limit int, live func(*appsv1.ControllerRevision) bool) error {
	excess := len(old) - max(limit, 0)
	if excess <= 0 {
		return nil
	}
	sorted := slices.Clone(old)
	SortByRevision(sorted)
	for _, r := range sorted {
		if excess <= 0 {
			break
		}
		if live != nil && live(r) {
			continue
		}
		if err := s.delete(ctx, r); err != nil {
			return err
		}
		excess--
	}
	return nil
}

// delete deletes r, provided it still has the UID it was read with; a revision
// already gone counts as deleted.
func (s *Store) delete(ctx context.Context, r *appsv1.ControllerRevision) error {
	uid := r.UID
	opts := metav1.DeleteOptions{}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := s.client.ControllerRevisions(r.Namespace).Delete(ctx, r.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("history: deleting revision %s/%s: %w", r.Namespace, r.Name, err)
	}
	return nil
}

// Patch applies a strategic-merge patch to the revision name in namespace; it
// is an ownership.PatchFunc for claiming revisions.
func (s *Store) Patch(ctx context.Context, namespace, name string, data []byte) error {
	_, err := s.client.ControllerRevisions(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return err
}

// SortByRevision sorts revisions by increasing revision number, then name.
func SortByRevision(revisions []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revisions, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}
