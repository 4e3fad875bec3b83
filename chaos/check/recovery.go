package check

import (
	"context"

	"github.com/capstan-io/capstan/chaos/history"
)

// Recovery checks liveness: every fault that ran was healed without error and the cluster was
// healthy again afterwards (a leader and every voter healthy).
type Recovery struct{}

var _ Checker = Recovery{}

// Name returns "recovery".
func (Recovery) Name() string { return "recovery" }

// Check examines the fault log.
func (Recovery) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "recovery"}
	for _, f := range h.Faults {
		if f.Skipped != "" {
			r.Unverified++
			continue
		}
		r.Checked++
		switch {
		case f.Err != "":
			r.violate("", f.Inject, "%s on %s failed: %s", f.Kind, f.Target, f.Err)
		case f.Recovered == 0:
			r.violate("", f.Inject, "the cluster did not become healthy after %s on %s was healed", f.Kind, f.Target)
		}
	}
	return r
}
