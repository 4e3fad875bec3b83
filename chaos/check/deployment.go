package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/capstan-io/capstan/chaos/history"
)

// Deployments checks that the controllers on the leader converged the Deployment workload:
// after healing, the ReplicaSet of the current template has spec and status replicas equal to
// the Deployment's and every other ReplicaSet is scaled to 0. Without node agents pods stay
// Pending, so replica counts are compared, not readiness.
type Deployments struct{}

var _ Checker = Deployments{}

// Name returns "deployments".
func (Deployments) Name() string { return "deployments" }

// Check examines the Deployment's end state.
func (Deployments) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "deployments"}
	d := h.Deployment
	if d == nil {
		r.note("the run had no Deployment workload")
		return r
	}
	r.Checked = 1
	a := d.Actions
	r.note("%d scales and %d rolls acknowledged (%d conflicts, %d unknown, %d failed); final check waited %.0f ms", a.Scales, a.Rolls, a.Conflicts, a.Unknown, a.Failed, d.WaitedMs)
	if d.Converged {
		return r
	}
	var rs []string
	for _, s := range d.ReplicaSets {
		rs = append(rs, fmt.Sprintf("%s(template %s: spec %d, status %d)", s.Name, s.Template, s.Spec, s.Status))
	}
	msg := fmt.Sprintf("did not converge within %.0f ms: deployment wants %d replicas of template %s (generation %d, observed %d); replica sets %s",
		d.WaitedMs, d.Replicas, d.Template, d.Generation, d.ObservedGeneration, strings.Join(rs, ", "))
	if d.Err != "" {
		msg += "; last read failed: " + d.Err
	}
	r.violate(d.Name, 0, "%s", msg)
	return r
}

// Bindings checks scheduling safety: a pod UID is bound to at most one node, ever.
type Bindings struct{}

var _ Checker = Bindings{}

// Name returns "bindings".
func (Bindings) Name() string { return "bindings" }

// Check examines the pod observations.
func (Bindings) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "bindings"}
	nodes := map[string][]string{}
	names := map[string]string{}
	var order []string
	for _, b := range h.Bindings {
		if _, ok := names[b.UID]; !ok {
			order = append(order, b.UID)
			names[b.UID] = b.Pod
		}
		if b.Node != "" {
			nodes[b.UID] = append(nodes[b.UID], b.Node)
		}
	}
	bound := 0
	for _, uid := range order {
		r.Checked++
		if n := nodes[uid]; len(n) > 0 {
			bound++
			if len(n) > 1 {
				r.violate(names[uid], 0, "pod %s (uid %s) was bound to %d nodes: %s", names[uid], uid, len(n), strings.Join(n, ", "))
			}
		}
	}
	r.note("%d pods observed, %d bound", len(order), bound)
	if bound == 0 && len(order) > 0 {
		r.note("no pod was bound (no node agents in this run): the check held vacuously")
	}
	return r
}
