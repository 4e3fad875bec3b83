package registry

import (
	"context"
	"errors"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
	"github.com/capstan-io/capstan/raftstore"
)

// maxUpdateAttempts bounds the retries of an update that keeps losing races.
const maxUpdateAttempts = 16

// errCreate is returned by an updateFunc that wants the missing object created instead.
var errCreate = errors.New("registry: create instead of update")

// updateFunc computes the new object from the live one (nil when absent). It must not modify
// live. Returning errCreate with a non-nil object creates it.
type updateFunc func(live runtime.Object) (runtime.Object, error)

// Update replaces an object (PUT). It returns the stored object and whether it was created.
func (s *Store) Update(ctx context.Context, ns, name string, obj runtime.Object, opts WriteOptions) (runtime.Object, bool, error) {
	if err := s.checkKind(obj); err != nil {
		return nil, false, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false, err
	}
	if m.GetName() != name {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
	}
	return s.guaranteedUpdate(ctx, ns, name, opts, func(live runtime.Object) (runtime.Object, error) {
		next := obj.DeepCopyObject()
		nm, _ := meta.Accessor(next)
		if live == nil {
			if !s.res.Strategy.AllowCreateOnUpdate || opts.Subresource != "" {
				return nil, apierrors.NewNotFound(s.gr, name)
			}
			return next, errCreate
		}
		lm, _ := meta.Accessor(live)
		if rv := nm.GetResourceVersion(); rv != "" && rv != lm.GetResourceVersion() {
			return nil, s.conflict(name)
		}
		return s.reg.patcher.Update(live, next, s.gvk, patch.Options{FieldManager: opts.FieldManager, Subresource: opts.Subresource})
	})
}

// PatchResult is the outcome of Patch.
type PatchResult struct {
	Object   runtime.Object
	Created  bool
	Warnings []string
}

// Patch applies a patch of type pt to an object; server-side apply may create it.
func (s *Store) Patch(ctx context.Context, ns, name string, pt types.PatchType, data []byte, opts WriteOptions) (PatchResult, error) {
	var warnings []string
	obj, created, err := s.guaranteedUpdate(ctx, ns, name, opts, func(live runtime.Object) (runtime.Object, error) {
		res, err := s.reg.patcher.Patch(live, s.gvk, pt, data, patch.Options{
			FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation, Subresource: opts.Subresource,
			Force: opts.Force, Resource: s.gr, Name: name, Namespace: ns,
		})
		if err != nil {
			return nil, err
		}
		warnings = res.Warnings
		if res.Created {
			if opts.Subresource != "" {
				return nil, apierrors.NewNotFound(s.gr, name)
			}
			return res.Object, errCreate
		}
		lm, _ := meta.Accessor(live)
		if nm, _ := meta.Accessor(res.Object); nm.GetResourceVersion() != lm.GetResourceVersion() {
			return nil, s.conflict(name) // the patch carried a stale resourceVersion
		}
		return res.Object, nil
	})
	return PatchResult{Object: obj, Created: created, Warnings: warnings}, err
}

func (s *Store) conflict(name string) error {
	return apierrors.NewConflict(s.gr, name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

// guaranteedUpdate reads the object, computes its next state with fn and writes it if the
// object has not changed meanwhile, retrying with the newer state otherwise.
func (s *Store) guaranteedUpdate(ctx context.Context, ns, name string, opts WriteOptions, fn updateFunc) (runtime.Object, bool, error) {
	key, err := s.key(ns, name)
	if err != nil {
		return nil, false, err
	}
	live, kv, found, err := s.current(ctx, key)
	if err != nil {
		return nil, false, err
	}
	fresh := !found // a miss was confirmed linearizably
	for attempt := 0; ; attempt++ {
		if attempt == maxUpdateAttempts {
			return nil, false, apierrors.NewConflict(s.gr, name, fmt.Errorf("gave up after %d attempts lost to concurrent writers", attempt))
		}
		var liveCopy runtime.Object
		if found {
			liveCopy = live.DeepCopyObject()
		}
		next, err := fn(liveCopy)
		if errors.Is(err, errCreate) {
			out, err := s.Create(ctx, ns, next, opts)
			if apierrors.IsAlreadyExists(err) {
				live, kv, found, err = s.current(ctx, key)
				if err != nil {
					return nil, false, err
				}
				continue // created meanwhile: update it instead
			}
			return out, err == nil, err
		}
		if err != nil {
			if apierrors.IsConflict(err) && !fresh {
				// The local copy may be behind the client's resourceVersion: read it linearizably.
				kv, found, _, err = s.reg.backend.Get(ctx, key, raftstore.ReadOptions{})
				if err != nil {
					return nil, false, err
				}
				if live, err = s.decodeFound(kv, found); err != nil {
					return nil, false, err
				}
				fresh = true
				continue
			}
			return nil, false, err
		}
		out, res, err := s.writeUpdate(ctx, key, next, live, kv, opts)
		if err != nil || res.Succeeded {
			return out, false, err
		}
		// Lost a race: the failed compare carries the current state.
		if res.FailedCompare != 0 || !res.HasFailedKV {
			if kv, found, _, err = s.reg.backend.Get(ctx, key, raftstore.ReadOptions{}); err != nil {
				return nil, false, err
			}
		} else {
			kv, found = res.FailedKV, res.FailedKVExists
		}
		if live, err = s.decodeFound(kv, found); err != nil {
			return nil, false, err
		}
		fresh = true
	}
}

func (s *Store) decodeFound(kv raftstore.KeyValue, found bool) (runtime.Object, error) {
	if !found {
		return nil, nil
	}
	return s.decodeKV(kv)
}

// writeUpdate runs the strategy on next (replacing live) and writes it if live is still
// current. A transaction that lost its compare is returned with Succeeded false.
func (s *Store) writeUpdate(ctx context.Context, key string, next, live runtime.Object, liveKV raftstore.KeyValue, opts WriteOptions) (runtime.Object, raftstore.TxnResult, error) {
	nm, err := meta.Accessor(next)
	if err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	lm, _ := meta.Accessor(live)
	if err := s.prepareUpdate(next, live, opts.Subresource); err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	if err := s.validateUpdate(next, live, opts.Subresource); err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	patch.KeepUnchangedTimestamps(next, live)
	if err := opts.admit(ctx, next, live); err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	if apiequality.Semantic.DeepEqual(next, live) {
		return next, raftstore.TxnResult{Succeeded: true, Revision: liveKV.ModRevision}, nil // no-op: nothing written
	}
	compares := []raftstore.Compare{raftstore.ModRevisionIs(key, liveKV.ModRevision)}
	// An object being deleted goes away when its last finalizer is removed.
	if nm.GetDeletionTimestamp() != nil && lm.GetDeletionTimestamp() != nil && !s.res.Strategy.held(next, nm.GetFinalizers()) {
		if opts.DryRun {
			return next, raftstore.TxnResult{Succeeded: true}, nil
		}
		res, err := s.txn(ctx, nm.GetName(), compares, s.deleteOps(ctx, key, live), opts)
		if err == nil && res.Succeeded {
			setRV(next, res.Revision)
		}
		return next, res, err
	}
	var ops []raftstore.Op
	if h := s.res.Strategy.Hooks; h != nil && opts.Subresource != "status" {
		c, o, err := h.OnUpdate(ctx, backendReader{s.reg.backend}, next, live)
		if err != nil {
			return nil, raftstore.TxnResult{}, err
		}
		compares, ops = append(compares, c...), o
	}
	data, err := s.encode(next)
	if err != nil {
		return nil, raftstore.TxnResult{}, err
	}
	if opts.DryRun {
		return next, raftstore.TxnResult{Succeeded: true}, nil
	}
	res, err := s.txn(ctx, nm.GetName(), compares, append([]raftstore.Op{raftstore.Put(key, data)}, ops...), opts)
	if err != nil {
		return nil, res, err
	}
	if res.Succeeded {
		setRV(next, res.Revision)
	} else if res.FailedCompare > 0 {
		return nil, res, s.conflict(nm.GetName()) // a hook's reservation was taken; the client may retry
	}
	return next, res, nil
}

// subresourceRaw marks internal writes (binding, scale, finalize) whose callers have already
// computed and validated the new object: the generic strategy rules do not apply.
const subresourceRaw = "\x00raw"

// Mutate changes an object with fn and writes it, retrying on conflicts. It applies neither the
// strategy's defaults nor its validation: fn is trusted to produce a valid object. Subresource
// handlers (binding, scale, finalize) and controllers' narrow writes use it.
// Only opts' DryRun, Fence and Admit apply.
func (s *Store) Mutate(ctx context.Context, ns, name string, opts WriteOptions, fn func(obj runtime.Object) error) (runtime.Object, error) {
	opts = WriteOptions{DryRun: opts.DryRun, Fence: opts.Fence, Admit: opts.Admit, Subresource: subresourceRaw}
	out, _, err := s.guaranteedUpdate(ctx, ns, name, opts, func(live runtime.Object) (runtime.Object, error) {
		if live == nil {
			return nil, apierrors.NewNotFound(s.gr, name)
		}
		if err := fn(live); err != nil {
			return nil, err
		}
		return live, nil
	})
	return out, err
}

// prepareUpdate keeps what the client may not change and applies defaults.
func (s *Store) prepareUpdate(next, live runtime.Object, subresource string) error {
	nm, _ := meta.Accessor(next)
	lm, _ := meta.Accessor(live)
	// A UID in the request is a precondition, as in Kubernetes: it names the object the client
	// means, not a value to store.
	if uid := nm.GetUID(); uid != "" && uid != lm.GetUID() {
		return apierrors.NewConflict(s.gr, nm.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, lm.GetUID()))
	}
	// System fields come from the stored object.
	nm.SetUID(lm.GetUID())
	nm.SetCreationTimestamp(lm.GetCreationTimestamp())
	nm.SetDeletionTimestamp(lm.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(lm.GetDeletionGracePeriodSeconds())
	nm.SetNamespace(lm.GetNamespace())
	nm.SetSelfLink("")
	nm.SetGeneration(lm.GetGeneration())
	st := s.res.Strategy
	switch subresource {
	case "status":
		if err := copyField(next, live, "Spec"); err != nil && hasSpec(live) {
			return err
		}
		metav1.ResetObjectMetaForStatus(nm, lm)
	case subresourceRaw:
		// The caller changed exactly what it means to; only the generation follows the spec.
		changed, err := specChanged(next, live)
		if err != nil {
			return err
		}
		if changed {
			nm.SetGeneration(lm.GetGeneration() + 1)
		}
		return nil
	default:
		if st.Status {
			if err := copyField(next, live, "Status"); err != nil {
				return err
			}
		}
		changed, err := specChanged(next, live)
		if err != nil {
			return err
		}
		if changed {
			nm.SetGeneration(lm.GetGeneration() + 1)
		}
	}
	if st.DefaultsOnUpdate != nil {
		st.DefaultsOnUpdate(next, live)
	}
	if st.PrepareForUpdate != nil && subresource == "" {
		st.PrepareForUpdate(next, live)
	}
	return nil
}

func (s *Store) validateUpdate(next, live runtime.Object, subresource string) error {
	st := s.res.Strategy
	var errs field.ErrorList
	switch {
	case subresource == "status" && st.ValidateStatusUpdate != nil:
		errs = st.ValidateStatusUpdate(next, live)
	case subresource == "" && st.ValidateUpdate != nil:
		errs = st.ValidateUpdate(next, live)
	}
	if len(errs) > 0 {
		nm, _ := meta.Accessor(next)
		return apierrors.NewInvalid(s.gvk.GroupKind(), nm.GetName(), errs)
	}
	return nil
}

func fieldRequired(path, msg string) field.ErrorList {
	return field.ErrorList{field.Required(field.NewPath(path), msg)}
}

func fieldInvalid(path string, value any, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}
