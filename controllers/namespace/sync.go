package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Sync reconciles the namespace with the given name: if it is being deleted
// and still carries the "kubernetes" finalizer, Sync deletes its content and,
// once nothing remains, finalizes it. It returns an error wrapping
// ErrContentRemaining while content remains. A namespace that no longer
// exists or is not being deleted is not an error. Sync must not run
// concurrently for the same name.
func (c *Controller) Sync(ctx context.Context, name string) error {
	logger := klog.FromContext(ctx)
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}

	if ns.Status.Phase != corev1.NamespaceTerminating {
		next := ns.DeepCopy()
		next.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("marking namespace %s terminating: %w", name, err)
		}
	}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil // finalized already; other finalizers are not ours
	}

	content := c.deleteContent(ctx, name)
	ns = c.updateConditions(ctx, ns, content)
	if err := errors.Join(content.errs...); err != nil {
		return err
	}
	if n := content.total(); n > 0 {
		return fmt.Errorf("%w: %d objects left in namespace %s", ErrContentRemaining, n, name)
	}

	next := ns.DeepCopy()
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, next, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("finalizing namespace %s: %w", name, err)
	}
	logger.V(2).Info("Namespace finalized", "namespace", name)
	return nil
}

// contentState is what one pass over a terminating namespace found.
type contentState struct {
	// remaining counts, per resource, the objects still in the namespace.
	remaining map[schema.GroupVersionResource]int
	// finalizers counts, per finalizer, the remaining objects that carry it.
	finalizers map[string]int
	// errs are the failures to delete or list a resource.
	errs []error
}

// total returns the number of remaining objects.
func (s *contentState) total() int {
	n := 0
	for _, v := range s.remaining {
		n += v
	}
	return n
}

// count records one remaining object of resource gvr.
func (s *contentState) count(gvr schema.GroupVersionResource, m metav1.Object) {
	s.remaining[gvr]++
	for _, f := range m.GetFinalizers() {
		s.finalizers[f]++
	}
}

// deleteContent deletes what remains in namespace ns and reports what is
// still there. The informers decide which resources need a DeleteCollection
// and whether content remains; only when they show the namespace empty does
// it list every resource without the cache, so that a lagging informer can
// never let the namespace go while it holds objects.
func (c *Controller) deleteContent(ctx context.Context, ns string) *contentState {
	state := &contentState{remaining: map[schema.GroupVersionResource]int{}, finalizers: map[string]int{}}
	for _, r := range c.resources {
		objs, err := cachedObjects(r.indexer, ns)
		if err != nil {
			state.errs = append(state.errs, err)
			continue
		}
		undeleted := false
		for _, obj := range objs {
			m, err := meta.Accessor(obj)
			if err != nil {
				continue
			}
			state.count(r.GVR, m)
			undeleted = undeleted || m.GetDeletionTimestamp() == nil
		}
		if undeleted {
			if err := c.deleteCollection(ctx, r.GVR, ns); err != nil {
				state.errs = append(state.errs, err)
			}
		}
	}
	if state.total() > 0 || len(state.errs) > 0 {
		return state
	}

	// The cache shows nothing left: confirm with the store itself.
	for _, r := range c.resources {
		list, err := c.metadata.Resource(r.GVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			state.errs = append(state.errs, fmt.Errorf("listing %s in namespace %s: %w", r.GVR.Resource, ns, err))
			continue
		}
		undeleted := false
		for i := range list.Items {
			state.count(r.GVR, &list.Items[i])
			undeleted = undeleted || list.Items[i].DeletionTimestamp == nil
		}
		if undeleted {
			if err := c.deleteCollection(ctx, r.GVR, ns); err != nil {
				state.errs = append(state.errs, err)
			}
		}
	}
	return state
}

// deleteCollection deletes every object of gvr in namespace ns, with
// background propagation so that the garbage collector adds no orphan
// finalizer. When the resource does not serve deletecollection, it deletes
// the objects one by one instead.
func (c *Controller) deleteCollection(ctx context.Context, gvr schema.GroupVersionResource, ns string) error {
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	client := c.metadata.Resource(gvr).Namespace(ns)
	err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsMethodNotSupported(err) {
		return fmt.Errorf("deleting %s in namespace %s: %w", gvr.Resource, ns, err)
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing %s in namespace %s: %w", gvr.Resource, ns, err)
	}
	for i := range list.Items {
		item := &list.Items[i]
		if item.DeletionTimestamp != nil {
			continue
		}
		uid := item.UID
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
		if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting %s %s/%s: %w", gvr.Resource, ns, item.Name, err)
		}
	}
	return nil
}

// cachedObjects returns the objects of namespace ns in indexer, through the
// namespace index when the informer has one.
func cachedObjects(indexer cache.Indexer, ns string) ([]any, error) {
	if _, ok := indexer.GetIndexers()[cache.NamespaceIndex]; ok {
		return indexer.ByIndex(cache.NamespaceIndex, ns)
	}
	var out []any
	for _, obj := range indexer.List() {
		if m, err := meta.Accessor(obj); err == nil && m.GetNamespace() == ns {
			out = append(out, obj)
		}
	}
	return out, nil
}
