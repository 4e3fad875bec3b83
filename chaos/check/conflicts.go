package check

import (
	"context"

	"github.com/capstan-io/capstan/chaos/history"
)

// Conflicts checks the 409 path: no two writes of one object succeeded with the same
// resourceVersion precondition (a lost update), and no write the API reported as not applied
// (409 Conflict, 409 AlreadyExists, 404, or a definite failure such as 503) shows up in the
// write log, a read or a final state — a timeout or a lost leadership must never be reported
// as 409 or 404.
type Conflicts struct{}

var _ Checker = Conflicts{}

// Name returns "conflicts".
func (Conflicts) Name() string { return "conflicts" }

type precondKey struct {
	key string
	rv  uint64
}

// Check examines conditional writes and failed writes.
func (Conflicts) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "conflicts"}
	l := buildLog(h)
	winners := map[precondKey]history.Op{}
	refused := 0
	for _, op := range h.Ops {
		if !op.Kind.IsWrite() {
			continue
		}
		succeeded := op.Outcome == history.OK
		if op.Outcome == history.Unknown && op.Kind == history.Update {
			_, succeeded = l.written[op.Value]
		}
		if succeeded && op.PrecondRV != 0 {
			r.Checked++
			k := precondKey{op.Key, op.PrecondRV}
			if other, dup := winners[k]; dup {
				r.violate(op.Key, op.Return, "op %d (%s) and op %d (%s) both succeeded with precondition resourceVersion %d: a lost update", other.ID, other.Kind, op.ID, op.Kind, op.PrecondRV)
			}
			winners[k] = op
		}
		switch op.Outcome {
		case history.Conflict, history.Exists, history.NotFound, history.Failed:
		default:
			continue
		}
		refused++
		if op.Kind == history.Delete || op.Value == "" {
			continue // nothing unique to look for; the linearizability check covers deletes
		}
		if e, ok := l.written[op.Value]; ok {
			r.violate(op.Key, op.Return, "op %d (%s of %q via %s) was answered %s (HTTP %d) but was applied at resourceVersion %d", op.ID, op.Kind, op.Value, op.Master, op.Outcome, op.Status, e.RV)
		} else if t, seen := l.seen[op.Value]; seen {
			r.violate(op.Key, t, "op %d (%s of %q via %s) was answered %s (HTTP %d) but a read returned its value", op.ID, op.Kind, op.Value, op.Master, op.Outcome, op.Status)
		}
	}
	r.note("%d conditional writes succeeded, each with its own precondition; %d writes were refused and none of them was applied", r.Checked, refused)
	return r
}
