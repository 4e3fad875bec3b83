package check

import (
	"context"

	"github.com/capstan-io/capstan/chaos/history"
)

// Convergence checks that, after every fault was healed, every master answered an exact list
// at the same revision with the same objects, and reported the same whole-store hash at the
// same revision.
type Convergence struct{}

var _ Checker = Convergence{}

// Name returns "convergence".
func (Convergence) Name() string { return "convergence" }

// Check compares the final states.
func (Convergence) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "convergence"}
	if len(h.Finals) == 0 {
		r.note("no final states were recorded")
		return r
	}
	var ref *history.Final
	var hashRef *history.Final
	for i := range h.Finals {
		f := &h.Finals[i]
		if f.Err != "" {
			r.violate("", 0, "master %s did not report its final state: %s", f.Master, f.Err)
			continue
		}
		r.Checked++
		if ref == nil {
			ref = f
		} else if f.RV != ref.RV {
			r.violate("", 0, "master %s listed at resourceVersion %d, master %s at %d", f.Master, f.RV, ref.Master, ref.RV)
		} else if d := diffItems(itemsByKey(ref.Items), f.Items); d != "" {
			r.violate("", 0, "master %s and master %s differ at resourceVersion %d: %s", f.Master, ref.Master, f.RV, d)
		}
		if f.Hash == "" {
			continue
		}
		if hashRef == nil {
			hashRef = f
		} else if f.HashRevision == hashRef.HashRevision && f.Hash != hashRef.Hash {
			r.violate("", 0, "masters %s and %s have different state hashes at revision %d: %s and %s", hashRef.Master, f.Master, f.HashRevision, hashRef.Hash, f.Hash)
		}
	}
	if hashRef == nil {
		r.note("the masters never reported their state hash at one revision; only the lists were compared")
	}
	return r
}

func itemsByKey(items []history.Item) map[string]history.Item {
	m := make(map[string]history.Item, len(items))
	for _, it := range items {
		m[it.Key] = it
	}
	return m
}
