package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// PatchFunc applies a strategic-merge patch to the object called name in
// namespace. Claimer calls it to adopt and release objects; it is usually a
// thin wrapper around a typed client's Patch.
type PatchFunc func(ctx context.Context, namespace, name string, patch []byte) error

// RecheckFunc confirms, with an uncached read, that the owner may still adopt
// objects. It returns an error (ErrOwnerGone when the owner was deleted or
// replaced) to refuse adoption.
type RecheckFunc func(ctx context.Context) error

// Claimer decides, for one owner, which candidate objects it controls. Like
// Kubernetes' BaseControllerRefManager it
//
//   - keeps objects whose controller reference names the owner and that still
//     match the selector;
//   - ignores objects controlled by somebody else;
//   - releases (removes its controller reference from) objects it controls
//     that no longer match, unless the owner is being deleted;
//   - adopts matching orphans that are not being deleted, unless the owner is
//     being deleted, after one uncached recheck of the owner.
//
// A Claimer serves one sync of one owner; it is not safe for concurrent use.
type Claimer struct {
	owner    metav1.Object
	kind     schema.GroupVersionKind
	selector labels.Selector
	recheck  RecheckFunc
	patch    PatchFunc

	rechecked  bool
	recheckErr error
}

// NewClaimer returns a Claimer for owner, whose kind is kind, claiming objects
// that selector matches. recheck runs at most once, before the first adoption;
// patch writes the ownerReferences changes.
func NewClaimer(owner metav1.Object, kind schema.GroupVersionKind, selector labels.Selector, recheck RecheckFunc, patch PatchFunc) *Claimer {
	return &Claimer{owner: owner, kind: kind, selector: selector, recheck: recheck, patch: patch}
}

// Claim reports whether obj belongs to the owner after reconciling its
// ownerReferences. An object that no longer exists is reported as not
// belonging, without error.
func (c *Claimer) Claim(ctx context.Context, obj metav1.Object) (bool, error) {
	matches := c.selector.Matches(labels.Set(obj.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != c.owner.GetUID() {
			return false, nil // controlled by somebody else
		}
		if matches {
			return true, nil
		}
		if c.owner.GetDeletionTimestamp() != nil {
			return false, nil // a dying owner does not release anything
		}
		if err := c.release(ctx, obj); err != nil {
			return false, err
		}
		return false, nil
	}
	// An orphan.
	if !matches || c.owner.GetDeletionTimestamp() != nil || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if ns := c.owner.GetNamespace(); ns != "" && ns != obj.GetNamespace() {
		return false, nil
	}
	if err := c.adopt(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// adopt makes the owner obj's controller, after the owner recheck.
func (c *Claimer) adopt(ctx context.Context, obj metav1.Object) error {
	if !c.rechecked {
		c.rechecked = true
		if c.recheck != nil {
			c.recheckErr = c.recheck(ctx)
		}
	}
	if c.recheckErr != nil {
		return fmt.Errorf("can't adopt %s/%s (%s): %w", obj.GetNamespace(), obj.GetName(), obj.GetUID(), c.recheckErr)
	}
	patch, err := AdoptPatch(c.owner, c.kind, obj)
	if err != nil {
		return err
	}
	return c.patch(ctx, obj.GetNamespace(), obj.GetName(), patch)
}

// release removes the owner's controller reference from obj. An object that is
// gone, or that the server refuses as invalid (it no longer carries the
// reference, or it is being deleted), counts as released.
func (c *Claimer) release(ctx context.Context, obj metav1.Object) error {
	patch, err := ReleasePatch(c.owner, obj)
	if err != nil {
		return err
	}
	err = c.patch(ctx, obj.GetNamespace(), obj.GetName(), patch)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}

// ClaimAll runs c.Claim over objs and returns the objects that belong to the
// owner, in their original order, with every claim error joined.
func ClaimAll[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := c.Claim(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}

// patchObject is the strategic-merge patch body Claimer sends.
type patchObject struct {
	Metadata patchMeta `json:"metadata"`
}

// patchMeta carries the ownerReferences change plus the target's UID and
// resourceVersion, which the server checks as preconditions.
type patchMeta struct {
	OwnerReferences []any     `json:"ownerReferences"`
	UID             types.UID `json:"uid"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
}

// AdoptPatch returns the strategic-merge patch that adds a controller
// reference to owner (of kind kind) to obj. The patch names obj's UID and
// resourceVersion so that it applies only to the object version it was
// computed from.
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, obj metav1.Object) ([]byte, error) {
	ref := metav1.NewControllerRef(owner, kind)
	return json.Marshal(patchObject{Metadata: patchMeta{
		OwnerReferences: []any{ref},
		UID:             obj.GetUID(),
		ResourceVersion: obj.GetResourceVersion(),
	}})
}

// ReleasePatch returns the strategic-merge patch that deletes owner's
// reference from obj's ownerReferences (merged by uid), with obj's UID and
// resourceVersion as preconditions.
func ReleasePatch(owner metav1.Object, obj metav1.Object) ([]byte, error) {
	return json.Marshal(patchObject{Metadata: patchMeta{
		OwnerReferences: []any{map[string]any{"$patch": "delete", "uid": owner.GetUID()}},
		UID:             obj.GetUID(),
		ResourceVersion: obj.GetResourceVersion(),
	}})
}

// RecheckOwner returns a RecheckFunc that reads the owner with get (an
// uncached GET) and fails with ErrOwnerGone when it has another UID than uid
// or is being deleted. Errors from get are returned as they are.
func RecheckOwner(uid types.UID, get func(ctx context.Context) (metav1.Object, error)) RecheckFunc {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != uid {
			return fmt.Errorf("%w: %s/%s has uid %s, want %s", ErrOwnerGone, fresh.GetNamespace(), fresh.GetName(), fresh.GetUID(), uid)
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%w: %s/%s has been deleted at %v", ErrOwnerGone, fresh.GetNamespace(), fresh.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}
