package registry

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capstan-io/capstan/raftstore"
)

// BatchWrite is one object of a WriteBatch: the new state of an existing object and the
// resourceVersion it must still have when the batch applies.
type BatchWrite struct {
	Object          runtime.Object
	ResourceVersion string
}

// WriteBatch stores new states of many existing objects in one store transaction, each guarded
// by its own resourceVersion: an object changed or deleted meanwhile is skipped and gets a
// Conflict, the others are written. Like Mutate it applies neither defaults nor validation (the
// scheduler's bindings use it). The returned slice holds one error per item (nil when written);
// the error is for the batch as a whole (store unavailable, fence failed), in which case
// nothing was written.
func (s *Store) WriteBatch(ctx context.Context, items []BatchWrite, opts WriteOptions) ([]error, error) {
	errs := make([]error, len(items))
	var ops []raftstore.Op
	var index []int // ops[i] writes items[index[i]]
	for i, it := range items {
		m, err := meta.Accessor(it.Object)
		if err != nil {
			errs[i] = err
			continue
		}
		key, err := s.key(m.GetNamespace(), m.GetName())
		if err != nil {
			errs[i] = err
			continue
		}
		rev, err := parseRV(it.ResourceVersion)
		if err != nil || rev == 0 {
			errs[i] = apierrors.NewBadRequest(fmt.Sprintf("%s %q: a resourceVersion precondition is required", s.gvk.Kind, m.GetName()))
			continue
		}
		data, err := s.encode(it.Object)
		if err != nil {
			errs[i] = err
			continue
		}
		ops = append(ops, raftstore.Op{Type: raftstore.OpPut, Key: key, Value: data, If: []raftstore.Compare{raftstore.ModRevisionIs(key, rev)}})
		index = append(index, i)
	}
	if len(ops) == 0 || opts.DryRun {
		return errs, nil
	}
	res, err := s.txn(ctx, "batch", nil, ops, opts)
	if err != nil {
		return errs, err
	}
	if !res.Succeeded {
		return errs, errors.New("registry: batch transaction failed its compares")
	}
	for j, r := range res.Ops {
		i := index[j]
		m, _ := meta.Accessor(items[i].Object)
		if r.Skipped {
			errs[i] = apierrors.NewConflict(s.gr, m.GetName(), errors.New("the object changed or was deleted since it was read"))
			continue
		}
		setRV(items[i].Object, res.Revision)
	}
	return errs, nil
}
