package check

import (
	"context"

	"github.com/capstan-io/capstan/chaos/history"
)

// LostWrites checks that no acknowledged create or update was lost: each is in the write log
// at its resourceVersion (where a watch stream vouched for that revision), and the final state
// holds it unless the log shows a later write or deletion of the object.
type LostWrites struct{}

var _ Checker = LostWrites{}

// Name returns "lost-writes".
func (LostWrites) Name() string { return "lost-writes" }

// Check compares acknowledged writes with the log and the final state.
func (LostWrites) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "lost-writes"}
	l := buildLog(h)
	final, ok := finalState(h)
	if !ok {
		r.note("no master reported a final state: only the log was checked")
	}
	// lastChange[key] is the highest revision at which the log shows the key changed.
	lastChange := map[string]uint64{}
	for _, e := range l.entries {
		lastChange[e.Key] = max(lastChange[e.Key], e.RV)
	}
	for _, op := range h.Ops {
		if op.Outcome != history.OK || (op.Kind != history.Create && op.Kind != history.Update) {
			continue
		}
		r.Checked++
		if l.covers(op.RV) {
			e, found := l.byRVKey[rvKey{op.RV, op.Key}]
			switch {
			case !found:
				r.violate(op.Key, op.Return, "acknowledged %s of %q at resourceVersion %d (op %d via %s) is missing from every watch stream that covered that revision", op.Kind, op.Value, op.RV, op.ID, op.Master)
			case e.Deleted || e.Value != op.Value:
				r.violate(op.Key, op.Return, "acknowledged %s of %q at resourceVersion %d (op %d) appears in the watch log as %s", op.Kind, op.Value, op.RV, op.ID, describe(e))
			}
		} else {
			r.Unverified++
		}
		if !ok || op.RV > final.RV {
			continue
		}
		got, present := final.items[op.Key]
		switch {
		case present && got.RV == op.RV && got.Value != op.Value:
			r.violate(op.Key, op.Return, "final state on %s holds %q at resourceVersion %d, but the acknowledged write at that revision was %q", final.master, got.Value, got.RV, op.Value)
		case present && got.RV < op.RV:
			r.violate(op.Key, op.Return, "acknowledged %s of %q at resourceVersion %d is lost: the final state on %s holds the older %q at %d", op.Kind, op.Value, op.RV, final.master, got.Value, got.RV)
		case !present && lastChange[op.Key] <= op.RV:
			r.violate(op.Key, op.Return, "acknowledged %s of %q at resourceVersion %d is lost: the object is absent from the final state on %s and no later deletion was observed", op.Kind, op.Value, op.RV, final.master)
		}
	}
	if r.Unverified > 0 {
		r.note("%d acknowledged writes fell in revisions no watch stream covered; they were checked against the final state only", r.Unverified)
	}
	return r
}

// final is the final state of one master, by key.
type final struct {
	master string
	RV     uint64
	items  map[string]history.Item
}

// finalState returns the first final state without an error.
func finalState(h *history.History) (final, bool) {
	for _, f := range h.Finals {
		if f.Err != "" || f.RV == 0 {
			continue
		}
		out := final{master: f.Master, RV: f.RV, items: map[string]history.Item{}}
		for _, it := range f.Items {
			out.items[it.Key] = it
		}
		return out, true
	}
	return final{}, false
}
