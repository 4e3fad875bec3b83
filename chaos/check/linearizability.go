package check

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/capstan-io/capstan/chaos/history"
)

// Linearizability checks the object operations (create, update, delete, get) against a
// sequential model of one Kubernetes object, with porcupine, partitioned by key. Unknown
// outcomes are resolved from the write log first: a write whose unique value the log holds
// succeeded at that revision, no later than a client first saw the value; a write absent from
// a log that is complete for the whole run did not happen. Writes still unknown stay
// nondeterministic with an open end.
type Linearizability struct {
	// Timeout bounds porcupine; 0 means one minute. A timeout is a violation: an unchecked
	// history is not a passing one.
	Timeout time.Duration
}

var _ Checker = (*Linearizability)(nil)

// Name returns "linearizability".
func (*Linearizability) Name() string { return "linearizability" }

// objInput is an operation's request in the model.
type objInput struct {
	Kind    history.Kind
	Key     string
	Value   string
	Precond uint64
}

// objOutput is an operation's answer in the model.
type objOutput struct {
	Outcome history.Outcome
	Value   string
	RV      uint64
}

// objState is one object: absent, or present with a value and resourceVersion. RV survives a
// deletion, since a recreated object must get a higher one; RV 0 with Exists marks a write
// whose revision is unknown.
type objState struct {
	Exists bool
	Value  string
	RV     uint64
}

// objectModel is the sequential specification of one object.
var objectModel = porcupine.NondeterministicModel{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range ops {
			k := op.Input.(objInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{objState{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(objState), input.(objInput), output.(objOutput)
		if out.Outcome == history.Unknown {
			next := []any{s}
			if applied, ok := apply(s, in, 0); ok {
				next = append(next, applied)
			}
			return next
		}
		if next, ok := step(s, in, out); ok {
			return []any{next}
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(objInput), output.(objOutput)
		var call string
		switch in.Kind {
		case history.Create:
			call = fmt.Sprintf("create(%s)", in.Value)
		case history.Update:
			call = fmt.Sprintf("update(%s, if rv=%d)", in.Value, in.Precond)
		case history.Delete:
			call = fmt.Sprintf("delete(if rv=%d)", in.Precond)
		default:
			call = "get()"
		}
		switch {
		case out.Outcome == history.OK && in.Kind == history.Get:
			return fmt.Sprintf("%s -> %s@%d", call, out.Value, out.RV)
		case out.Outcome == history.OK:
			return fmt.Sprintf("%s -> ok@%d", call, out.RV)
		}
		return fmt.Sprintf("%s -> %s", call, out.Outcome)
	},
	DescribeState: func(state any) string {
		s := state.(objState)
		if !s.Exists {
			return fmt.Sprintf("absent (last rv %d)", s.RV)
		}
		return fmt.Sprintf("%s@%d", s.Value, s.RV)
	},
}

// precondHolds reports whether in's resourceVersion precondition holds in s.
func precondHolds(s objState, in objInput) bool {
	return in.Precond == 0 || s.RV == in.Precond
}

// apply returns the state after write in applied successfully at rv (0: unknown).
func apply(s objState, in objInput, rv uint64) (objState, bool) {
	switch in.Kind {
	case history.Create:
		if s.Exists {
			return s, false
		}
		return objState{Exists: true, Value: in.Value, RV: rv}, true
	case history.Update:
		if !s.Exists || !precondHolds(s, in) {
			return s, false
		}
		return objState{Exists: true, Value: in.Value, RV: rv}, true
	case history.Delete:
		if !s.Exists || !precondHolds(s, in) {
			return s, false
		}
		return objState{RV: s.RV}, true
	}
	return s, false
}

// step is the deterministic transition for a known outcome.
func step(s objState, in objInput, out objOutput) (objState, bool) {
	switch out.Outcome {
	case history.OK:
		if in.Kind == history.Get {
			return s, s.Exists && s.Value == out.Value && s.RV == out.RV
		}
		if in.Kind != history.Delete && out.RV <= s.RV {
			return s, false // resourceVersions of one object only grow
		}
		return apply(s, in, out.RV)
	case history.NotFound:
		return s, !s.Exists
	case history.Exists:
		return s, in.Kind == history.Create && s.Exists
	case history.Conflict:
		return s, in.Kind != history.Create && s.Exists && !precondHolds(s, in)
	}
	return s, false
}

// linearizableOps turns the history's object operations into porcupine operations, resolving
// unknown writes from the log. It returns the operations and how many unknowns it resolved
// and dropped.
func linearizableOps(h *history.History, l *writeLog) (ops []porcupine.Operation, resolved, dropped, open int) {
	complete := l.coversFromBase(l.coveredTo()) && len(l.coverage) > 0 && l.coveredTo() >= maxRV(h)
	for _, op := range h.Ops {
		if op.Kind == history.List || op.Key == "" {
			continue
		}
		in := objInput{Kind: op.Kind, Key: op.Key, Value: op.Value, Precond: op.PrecondRV}
		out := objOutput{Outcome: op.Outcome, RV: op.RV}
		ret := op.Return
		switch op.Outcome {
		case history.Failed:
			continue // not applied: Conflicts checks that the log agrees
		case history.Unknown:
			if op.Kind == history.Get {
				continue // a read without an answer constrains nothing
			}
			if op.Kind != history.Delete {
				if e, ok := l.written[op.Value]; ok && e.Key == op.Key {
					out = objOutput{Outcome: history.OK, RV: e.RV}
					ret = max(op.Call, l.seen[op.Value])
					resolved++
					break
				}
				if complete {
					dropped++
					continue
				}
			}
			ret = history.Never
			open++
		}
		if op.Kind == history.Get && op.Outcome == history.OK {
			out.Value = op.Value
		}
		ops = append(ops, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: out, Return: ret, Metadata: op.Master})
	}
	return ops, resolved, dropped, open
}

// maxRV is the highest resourceVersion any operation returned.
func maxRV(h *history.History) uint64 {
	var m uint64
	for _, op := range h.Ops {
		if op.Outcome == history.OK {
			m = max(m, op.RV)
		}
	}
	return m
}

// Check runs porcupine.
func (c *Linearizability) Check(ctx context.Context, h *history.History) Result {
	r := Result{Checker: c.Name()}
	l := buildLog(h)
	ops, resolved, dropped, open := linearizableOps(h, l)
	r.Checked = len(ops)
	r.note("%d object operations checked; unknown writes: %d resolved from the watch log, %d dropped as never applied, %d left open", len(ops), resolved, dropped, open)
	if len(ops) == 0 {
		return r
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	model := objectModel.ToModel()
	model.DescribeOperationMetadata = func(info any) string { return fmt.Sprintf("sent to %v", info) }
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	switch res {
	case porcupine.Ok:
		return r
	case porcupine.Unknown:
		r.violate("", 0, "porcupine did not finish within %s: the history is unchecked (treated as a failure)", timeout)
	default:
		for _, bad := range illegalKeys(ops, info) {
			r.violate(bad.key, bad.at, "the operations on this object are not linearizable; the first that fits no linearization: %s; see linearizability.html", bad.op)
		}
		if len(r.Violations) == 0 {
			r.violate("", 0, "the history is not linearizable; see linearizability.html")
		}
	}
	info.AddAnnotations(faultAnnotations(h))
	r.Artifacts = append(r.Artifacts, Artifact{Name: "linearizability.html", Write: func(w io.Writer) error { return porcupine.Visualize(model, info, w) }})
	return r
}

// illegal is a partition porcupine could not linearize completely.
type illegal struct {
	key string
	// op describes the earliest-returning operation outside the longest partial
	// linearization, and at is its call time: where a person should start looking.
	op string
	at int64
}

// illegalKeys finds the partitions porcupine could not linearize completely.
func illegalKeys(ops []porcupine.Operation, info porcupine.LinearizationInfo) []illegal {
	parts := objectModel.Partition(ops)
	partial := info.PartialLinearizations()
	var out []illegal
	for i, p := range parts {
		if i >= len(partial) || len(p) == 0 {
			continue
		}
		var longest []int
		for _, lin := range partial[i] {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
		if len(longest) == len(p) {
			continue
		}
		in := make(map[int]bool, len(longest))
		for _, j := range longest {
			in[j] = true
		}
		first := -1
		for j, op := range p {
			if !in[j] && (first < 0 || op.Return < p[first].Return) {
				first = j
			}
		}
		op := p[first]
		out = append(out, illegal{
			key: op.Input.(objInput).Key, at: op.Call,
			op: fmt.Sprintf("client %d via %v, %s, called at %.3fs", op.ClientId, op.Metadata, objectModel.DescribeOperation(op.Input, op.Output), float64(op.Call)/1e9),
		})
	}
	return out
}

// faultAnnotations marks the faults on the visualization's time line.
func faultAnnotations(h *history.History) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, f := range h.Faults {
		if f.Skipped != "" {
			continue
		}
		end := f.Healed
		if end == 0 {
			end = f.Inject
		}
		out = append(out, porcupine.Annotation{Tag: "faults", Start: f.Inject, End: end, Description: f.Kind + " " + f.Target, Details: f.Note, BackgroundColor: "#ffd6d6"})
	}
	return out
}
