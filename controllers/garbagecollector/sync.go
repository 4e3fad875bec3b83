package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// orphanParallelism is how many dependents are patched at once when an
// owner's dependents are orphaned.
const orphanParallelism = 16

// Sync examines one object, as Item names it, and does what ownership asks
// of it now:
//
//   - an object being deleted with the orphan finalizer has its reference
//     removed from its dependents, then the finalizer removed;
//   - an object being deleted with the foregroundDeletion finalizer has its
//     dependents enqueued for deletion, and the finalizer removed once no
//     blocking dependent remains;
//   - an object with owners is deleted when none of them exists (confirmed
//     without the cache), or loses its references to gone and waiting owners
//     when another owner exists.
//
// An item that no longer exists is not an error. Sync must not run
// concurrently for the same item.
func (c *Controller) Sync(ctx context.Context, item Item) error {
	r := c.byGR[item.Resource]
	if r == nil {
		return nil
	}
	m := r.byUID(item.UID)
	if m == nil {
		return nil // gone; its deletion enqueued its dependents
	}
	if m.GetDeletionTimestamp() != nil {
		switch {
		case hasFinalizer(m, metav1.FinalizerOrphanDependents):
			return c.orphanDependents(ctx, r, m)
		case hasFinalizer(m, metav1.FinalizerDeleteDependents):
			return c.deleteDependents(ctx, r, m)
		}
		return nil // on its way out; its deletion will enqueue its dependents
	}
	if len(m.GetOwnerReferences()) == 0 || c.ownersSolid(m) {
		return nil
	}
	return c.collect(ctx, r, m)
}

// collect decides, from the object's live state and the live state of the
// owners the cache does not show, whether the object is garbage, and deletes
// it or drops its references to owners that are gone or waiting.
func (c *Controller) collect(ctx context.Context, r *resource, cached metav1.Object) error {
	logger := klog.FromContext(ctx)
	client := c.metadata.Resource(r.GVR).Namespace(cached.GetNamespace())
	live, err := client.Get(ctx, cached.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if live.UID != cached.GetUID() || live.DeletionTimestamp != nil || len(live.OwnerReferences) == 0 {
		return nil
	}

	var solid, dangling, waiting []metav1.OwnerReference
	for _, ref := range live.OwnerReferences {
		state := c.cachedOwnerState(live.Namespace, ref)
		if state == ownerUncached {
			if state, err = c.liveOwnerState(ctx, live.Namespace, ref); err != nil {
				return err
			}
		}
		switch state {
		case ownerAbsent:
			dangling = append(dangling, ref)
		case ownerWaiting:
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}

	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// A waiting owner would otherwise wait for an object that is never deleted.
		drop := append(ownerUIDs(dangling), ownerUIDs(waiting)...)
		logger.V(2).Info("Removing references to gone or waiting owners", "object", itemOf(r, live), "owners", drop)
		_, err := c.patchOwnerReferences(ctx, r, live, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			return slices.DeleteFunc(refs, func(ref metav1.OwnerReference) bool { return slices.Contains(drop, ref.UID) })
		})
		return err

	case len(waiting) > 0 && c.hasDependents(live.UID):
		// Delete in the foreground too, so that the owner waits for the
		// whole tree. A dependent that itself waits for this object would
		// deadlock the two; unblock this object's references first.
		if c.anyDependentWaiting(live) {
			patched, err := c.patchOwnerReferences(ctx, r, live, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
				for i := range refs {
					refs[i].BlockOwnerDeletion = nil
				}
				return refs
			})
			if err != nil || patched == nil {
				return err
			}
			live = patched
		}
		return c.deleteObject(ctx, r, live, metav1.DeletePropagationForeground)

	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case hasFinalizer(live, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case hasFinalizer(live, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		return c.deleteObject(ctx, r, live, policy)
	}
}

// absentKey identifies an owner confirmed absent: the coordinates a
// reference names and its UID. A UID never comes back, so neither does the
// owner.
type absentKey struct {
	resource  schema.GroupResource
	namespace string
	name      string
	uid       types.UID
}

// liveOwnerState classifies ref, for a dependent in namespace ns, from the
// store: an uncached GET of the owner, unless it was confirmed absent before.
func (c *Controller) liveOwnerState(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerState, error) {
	r, ons, ok := c.resolve(ns, ref)
	if !ok {
		return ownerUnverifiable, nil
	}
	key := absentKey{resource: r.GVR.GroupResource(), namespace: ons, name: ref.Name, uid: ref.UID}
	if _, ok := c.absent.Get(key); ok {
		return ownerAbsent, nil
	}
	owner, err := c.metadata.Resource(r.GVR).Namespace(ons).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.absent.Add(key, struct{}{})
		return ownerAbsent, nil
	case err != nil:
		return ownerUncached, fmt.Errorf("looking up owner %s %s/%s: %w", r.GVR.Resource, ons, ref.Name, err)
	case owner.UID != ref.UID:
		c.absent.Add(key, struct{}{})
		return ownerAbsent, nil
	case waitingForDependents(owner):
		return ownerWaiting, nil
	default:
		return ownerSolid, nil
	}
}

// anyDependentWaiting reports whether a cached dependent of m is itself
// being deleted in the foreground.
func (c *Controller) anyDependentWaiting(m metav1.Object) bool {
	for _, d := range c.dependents(m) {
		if waitingForDependents(d.obj) {
			return true
		}
	}
	return false
}

// deleteObject deletes live with policy, provided it still has the UID and
// resourceVersion the decision was made on.
func (c *Controller) deleteObject(ctx context.Context, r *resource, live *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	uid, rv := live.UID, live.ResourceVersion
	opts := metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
		PropagationPolicy: &policy,
	}
	klog.FromContext(ctx).V(2).Info("Deleting garbage", "object", itemOf(r, live), "propagationPolicy", policy)
	err := c.metadata.Resource(r.GVR).Namespace(live.Namespace).Delete(ctx, live.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", itemOf(r, live), err)
	}
	return nil
}

// deleteDependents serves an owner being deleted in the foreground: it
// enqueues its dependents that are not being deleted yet, and removes the
// foregroundDeletion finalizer once no dependent blocks the owner's
// deletion.
func (c *Controller) deleteDependents(ctx context.Context, r *resource, owner metav1.Object) error {
	blocking := 0
	for _, d := range c.dependents(owner) {
		if ref, ok := referenceTo(d.obj, owner.GetUID()); ok && boolValue(ref.BlockOwnerDeletion) {
			blocking++
		}
		if d.obj.GetDeletionTimestamp() == nil {
			c.enqueue(d.res, d.obj)
		}
	}
	if blocking > 0 {
		return nil
	}
	klog.FromContext(ctx).V(2).Info("No dependent blocks the owner any more", "owner", itemOf(r, owner))
	return c.removeFinalizer(ctx, r, owner, metav1.FinalizerDeleteDependents)
}

// orphanDependents serves an owner being deleted with the orphan finalizer:
// it removes the references to the owner from all its dependents, then the
// finalizer from the owner.
func (c *Controller) orphanDependents(ctx context.Context, r *resource, owner metav1.Object) error {
	deps := c.dependents(owner)
	errs := make([]error, len(deps))
	sem := make(chan struct{}, orphanParallelism)
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() {
				<-sem
				wg.Done()
			}()
			_, errs[i] = c.patchOwnerReferences(ctx, d.res, d.obj, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
				return slices.DeleteFunc(refs, func(ref metav1.OwnerReference) bool { return ref.UID == owner.GetUID() })
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("orphaning the dependents of %s: %w", itemOf(r, owner), err)
	}
	klog.FromContext(ctx).V(2).Info("Orphaned dependents", "owner", itemOf(r, owner), "dependents", len(deps))
	return c.removeFinalizer(ctx, r, owner, metav1.FinalizerOrphanDependents)
}

// ownerUIDs returns the UIDs refs name.
func ownerUIDs(refs []metav1.OwnerReference) []types.UID {
	out := make([]types.UID, len(refs))
	for i, ref := range refs {
		out[i] = ref.UID
	}
	return out
}
