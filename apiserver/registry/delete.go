package registry

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capstan-io/capstan/raftstore"
)

// Finalizers the garbage collector honours, as in Kubernetes.
const (
	FinalizerOrphan     = metav1.FinalizerOrphanDependents
	FinalizerForeground = metav1.FinalizerDeleteDependents
)

// Delete deletes an object, or starts its graceful deletion. It returns the object and
// whether it is gone now (false while a grace period or finalizers hold it).
func (s *Store) Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions, w WriteOptions) (runtime.Object, bool, error) {
	key, err := s.key(ns, name)
	if err != nil {
		return nil, false, err
	}
	live, kv, found, err := s.current(ctx, key)
	if err != nil {
		return nil, false, err
	}
	fresh := !found // a miss was confirmed linearizably
	for attempt := 0; attempt < maxUpdateAttempts; attempt++ {
		if !found {
			return nil, false, apierrors.NewNotFound(s.gr, name)
		}
		if err := s.checkPreconditions(live, name, opts.Preconditions); err != nil {
			if fresh {
				return nil, false, err
			}
			// The local copy may be behind the client's preconditions: read it linearizably
			// before refusing, as an update does.
			if kv, found, _, err = s.reg.backend.Get(ctx, key, raftstore.ReadOptions{}); err != nil {
				return nil, false, err
			}
			if live, err = s.decodeFound(kv, found); err != nil {
				return nil, false, err
			}
			fresh = true
			continue
		}
		if err := w.admit(ctx, nil, live); err != nil {
			return nil, false, err
		}
		next, pending := s.deletionState(live, opts)
		var res raftstore.TxnResult
		var out runtime.Object
		if pending {
			out, res, err = s.writeDeletionState(ctx, key, next, kv, w)
		} else {
			out, res, err = s.remove(ctx, key, live, kv, w)
		}
		if err != nil {
			return nil, false, err
		}
		if res.Succeeded {
			return out, !pending, nil
		}
		kv, found = res.FailedKV, res.FailedKVExists
		if !res.HasFailedKV {
			if kv, found, _, err = s.reg.backend.Get(ctx, key, raftstore.ReadOptions{}); err != nil {
				return nil, false, err
			}
		}
		if live, err = s.decodeFound(kv, found); err != nil {
			return nil, false, err
		}
		fresh = true
	}
	return nil, false, apierrors.NewConflict(s.gr, name, fmt.Errorf("gave up after %d attempts lost to concurrent writers", maxUpdateAttempts))
}

func (s *Store) checkPreconditions(live runtime.Object, name string, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	m, _ := meta.Accessor(live)
	if p.UID != nil && *p.UID != m.GetUID() {
		return apierrors.NewConflict(s.gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
		return apierrors.NewConflict(s.gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
	}
	return nil
}

// deletionState returns the object as a delete leaves it when it cannot go at once: with
// deletion timestamp, grace period and the finalizers the propagation policy asks for. pending
// is false when the object can be removed now.
func (s *Store) deletionState(live runtime.Object, opts metav1.DeleteOptions) (runtime.Object, bool) {
	next := live.DeepCopyObject()
	m, _ := meta.Accessor(next)
	finalizers := m.GetFinalizers()
	policy := propagationPolicy(opts)
	switch policy {
	case metav1.DeletePropagationOrphan:
		finalizers = addString(removeString(finalizers, FinalizerForeground), FinalizerOrphan)
	case metav1.DeletePropagationForeground:
		finalizers = addString(removeString(finalizers, FinalizerOrphan), FinalizerForeground)
	}
	graceSeconds, graceful := int64(0), false
	if g := s.res.Strategy.GracefulDelete; g != nil {
		graceSeconds, graceful = g(live, &opts)
	}
	now := s.reg.cfg.Now().UTC()
	switch {
	case graceful && graceSeconds > 0:
		// The deletion timestamp is when the grace period ends; a new delete may shorten it.
		deadline := metav1.NewTime(now.Add(time.Duration(graceSeconds) * time.Second).Truncate(time.Second))
		if cur := m.GetDeletionTimestamp(); cur == nil || deadline.Before(cur) {
			m.SetDeletionTimestamp(&deadline)
			m.SetDeletionGracePeriodSeconds(&graceSeconds)
		}
	case len(finalizers) > 0 || (s.res.Strategy.BeforeDelete != nil && s.res.Strategy.BeforeDelete(next)):
		if m.GetDeletionTimestamp() == nil {
			ts := metav1.NewTime(now.Truncate(time.Second))
			m.SetDeletionTimestamp(&ts)
		}
		zero := int64(0)
		m.SetDeletionGracePeriodSeconds(&zero)
	default:
		return live, false
	}
	m.SetFinalizers(finalizers)
	return next, true
}

func propagationPolicy(opts metav1.DeleteOptions) metav1.DeletionPropagation {
	if opts.PropagationPolicy != nil {
		return *opts.PropagationPolicy
	}
	if opts.OrphanDependents != nil && *opts.OrphanDependents {
		return metav1.DeletePropagationOrphan
	}
	return metav1.DeletePropagationBackground
}

// writeDeletionState stores an object whose deletion waits.
func (s *Store) writeDeletionState(ctx context.Context, key string, next runtime.Object, kv raftstore.KeyValue, w WriteOptions) (runtime.Object, raftstore.TxnResult, error) {
	data, err := s.encode(next)
	if err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	if w.DryRun {
		return next, raftstore.TxnResult{Succeeded: true}, nil
	}
	m, _ := meta.Accessor(next)
	res, err := s.txn(ctx, m.GetName(), []raftstore.Compare{raftstore.ModRevisionIs(key, kv.ModRevision)}, []raftstore.Op{raftstore.Put(key, data)}, w)
	if err == nil && res.Succeeded {
		setRV(next, res.Revision)
	}
	return next, res, err
}

// remove deletes the key if it is unchanged since kv.
func (s *Store) remove(ctx context.Context, key string, live runtime.Object, kv raftstore.KeyValue, w WriteOptions) (runtime.Object, raftstore.TxnResult, error) {
	if w.DryRun {
		return live, raftstore.TxnResult{Succeeded: true}, nil
	}
	m, _ := meta.Accessor(live)
	res, err := s.txn(ctx, m.GetName(), []raftstore.Compare{raftstore.ModRevisionIs(key, kv.ModRevision)}, s.deleteOps(ctx, key, live), w)
	if err == nil && res.Succeeded {
		setRV(live, res.Revision)
	}
	return live, res, err
}

// DeleteCollection deletes every object of a namespace (all namespaces when ns is "") that
// matches the selectors in listOpts, and returns the list of what it deleted.
func (s *Store) DeleteCollection(ctx context.Context, ns string, listOpts metav1.ListOptions, opts metav1.DeleteOptions, w WriteOptions) (runtime.Object, error) {
	listOpts.Limit, listOpts.Continue = 0, ""
	list, err := s.List(ctx, ns, listOpts)
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var deleted []runtime.Object
	for _, item := range items {
		m, _ := meta.Accessor(item)
		obj, _, err := s.Delete(ctx, m.GetNamespace(), m.GetName(), opts, w)
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		deleted = append(deleted, obj)
	}
	out := s.NewList()
	if err := meta.SetList(out, deleted); err != nil {
		return nil, err
	}
	return out, nil
}

func addString(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func removeString(list []string, v string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == v })
}

// deleteOps are the operations that delete key, holding live, with what its hooks release.
func (s *Store) deleteOps(ctx context.Context, key string, live runtime.Object) []raftstore.Op {
	ops := []raftstore.Op{raftstore.Delete(key)}
	if h := s.res.Strategy.Hooks; h != nil {
		ops = append(ops, h.OnDelete(ctx, live)...)
	}
	return ops
}
