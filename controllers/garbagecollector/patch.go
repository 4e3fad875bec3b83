package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// patchAttempts is how many times a metadata patch is tried, re-reading the
// object after each stale attempt.
const patchAttempts = 3

// metadataPatch returns a JSON patch that sets the metadata field at path
// (removes it when empty is true) on the object with the given UID and
// resourceVersion, and fails on any other.
func metadataPatch(uid types.UID, resourceVersion, path string, value any, empty bool) ([]byte, error) {
	ops := []map[string]any{
		{"op": "test", "path": "/metadata/uid", "value": uid},
		{"op": "test", "path": "/metadata/resourceVersion", "value": resourceVersion},
	}
	if empty {
		ops = append(ops, map[string]any{"op": "remove", "path": path})
	} else {
		ops = append(ops, map[string]any{"op": "replace", "path": path, "value": value})
	}
	return json.Marshal(ops)
}

// patchOwnerReferences replaces the ownerReferences of cur with what mutate
// makes of a copy of them. It returns the object as stored, or nil when it
// no longer exists (under cur's UID).
func (c *Controller) patchOwnerReferences(ctx context.Context, r *resource, cur metav1.Object, mutate func([]metav1.OwnerReference) []metav1.OwnerReference) (*metav1.PartialObjectMetadata, error) {
	return c.patchMetadata(ctx, r, cur, func(m metav1.Object) ([]byte, bool, error) {
		refs := mutate(slices.Clone(m.GetOwnerReferences()))
		if slices.EqualFunc(refs, m.GetOwnerReferences(), sameRef) {
			return nil, false, nil
		}
		p, err := metadataPatch(m.GetUID(), m.GetResourceVersion(), "/metadata/ownerReferences", refs, len(refs) == 0)
		return p, true, err
	})
}

// removeFinalizer removes finalizer f from cur. It returns the object as
// stored, or nil when it no longer exists (under cur's UID), which is what
// removing the last finalizer of an object being deleted achieves.
func (c *Controller) removeFinalizer(ctx context.Context, r *resource, cur metav1.Object, f string) error {
	_, err := c.patchMetadata(ctx, r, cur, func(m metav1.Object) ([]byte, bool, error) {
		if !hasFinalizer(m, f) {
			return nil, false, nil
		}
		rest := slices.DeleteFunc(slices.Clone(m.GetFinalizers()), func(s string) bool { return s == f })
		p, err := metadataPatch(m.GetUID(), m.GetResourceVersion(), "/metadata/finalizers", rest, len(rest) == 0)
		return p, true, err
	})
	return err
}

// patchMetadata applies the JSON patch build makes for cur. The patch tests
// the UID and resourceVersion it was built from; when they are stale (409
// Conflict, or 422 for a failed test), the object is read again without the
// cache and the patch rebuilt, up to patchAttempts times. build reports
// false when the object needs no change. patchMetadata returns the object as
// stored (cur itself when unchanged), or nil when it no longer exists under
// cur's UID.
func (c *Controller) patchMetadata(ctx context.Context, r *resource, cur metav1.Object, build func(metav1.Object) ([]byte, bool, error)) (*metav1.PartialObjectMetadata, error) {
	client := c.metadata.Resource(r.GVR).Namespace(cur.GetNamespace())
	uid, name := cur.GetUID(), cur.GetName()
	for attempt := 1; ; attempt++ {
		patch, changed, err := build(cur)
		if err != nil {
			return nil, err
		}
		if !changed {
			return asPartial(cur), nil
		}
		out, err := client.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{})
		switch {
		case err == nil:
			return out, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		case (apierrors.IsConflict(err) || apierrors.IsInvalid(err)) && attempt < patchAttempts:
			// Stale: read the object again and rebuild the patch.
		default:
			return nil, fmt.Errorf("patching %s: %w", itemOf(r, cur), err)
		}
		live, err := client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if live.UID != uid {
			return nil, nil
		}
		cur = live
	}
}

// asPartial returns m as a PartialObjectMetadata.
func asPartial(m metav1.Object) *metav1.PartialObjectMetadata {
	if p, ok := m.(*metav1.PartialObjectMetadata); ok {
		return p
	}
	return meta.AsPartialObjectMetadata(m)
}
