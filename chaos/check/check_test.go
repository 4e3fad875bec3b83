package check

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/capstan-io/capstan/chaos/history"
)

// good is a small correct history: k1 is created, read, updated, listed and deleted while two
// masters watch; both report the same final state.
func good() *history.History {
	h := &history.History{Keys: []string{"k1", "k2"}}
	h.Ops = []history.Op{
		{Client: 0, Master: "m1", Kind: history.Create, Key: "k1", Value: "v1", Call: 10, Return: 20, Outcome: history.OK, RV: 5},
		{Client: 1, Master: "m2", Kind: history.Get, Key: "k1", Value: "v1", Call: 21, Return: 25, Outcome: history.OK, RV: 5},
		{Client: 0, Master: "m1", Kind: history.Update, Key: "k1", Value: "v2", PrecondRV: 5, Call: 30, Return: 40, Outcome: history.OK, RV: 7},
		{Client: 1, Master: "m2", Kind: history.Update, Key: "k1", Value: "v3", PrecondRV: 5, Call: 41, Return: 45, Outcome: history.Conflict, Status: 409},
		{Client: 2, Master: "m2", Kind: history.List, Call: 46, Return: 50, Outcome: history.OK, RV: 7, Items: []history.Item{{Key: "k1", Value: "v2", RV: 7}}},
		{Client: 0, Master: "m1", Kind: history.Create, Key: "k2", Value: "v4", Call: 51, Return: 60, Outcome: history.OK, RV: 8},
		{Client: 1, Master: "m2", Kind: history.Delete, Key: "k1", PrecondRV: 7, Call: 61, Return: 70, Outcome: history.OK, RV: 7},
		{Client: 2, Master: "m2", Kind: history.Get, Key: "k1", Call: 71, Return: 75, Outcome: history.NotFound, Status: 404},
	}
	events := []history.Event{
		{Type: history.Added, Key: "k1", Value: "v1", RV: 5, At: 18},
		{Type: history.Modified, Key: "k1", Value: "v2", RV: 7, At: 38},
		{Type: history.Added, Key: "k2", Value: "v4", RV: 8, At: 58},
		{Type: history.Bookmark, RV: 8, At: 59},
		{Type: history.Deleted, Key: "k1", Value: "v2", RV: 9, At: 68},
	}
	h.Streams = []history.Stream{
		{ID: 0, Watcher: "w-m1", Master: "m1", StartRV: 1, Opened: 1, Events: events, Closed: 100},
		{ID: 1, Watcher: "w-m2", Master: "m2", StartRV: 1, Opened: 1, Events: events[:2], Closed: 40, EndErr: "connection reset"},
		{ID: 2, Watcher: "w-m2", Master: "m2", StartRV: 7, Opened: 41, Events: events[2:], Closed: 100},
	}
	final := []history.Item{{Key: "k2", Value: "v4", RV: 8}}
	h.Finals = []history.Final{
		{Master: "m1", RV: 9, Items: final, HashRevision: 12, Hash: "aa"},
		{Master: "m2", RV: 9, Items: final, HashRevision: 12, Hash: "aa"},
	}
	h.Faults = []history.Fault{{Kind: "kill-leader", Target: "m3", Inject: 26, Healed: 29}}
	return h
}

// mutate returns good() changed by f.
func mutate(f func(h *history.History)) *history.History {
	h := good()
	f(h)
	return h
}

func TestCheckers(t *testing.T) {
	tests := []struct {
		name    string
		checker Checker
		h       *history.History
		// wantViolation is a substring of a violation the checker must report; "" means none.
		wantViolation string
	}{
		// Correct histories pass every checker.
		{name: "linearizability/good", checker: &Linearizability{}, h: good()},
		{name: "lost-writes/good", checker: LostWrites{}, h: good()},
		{name: "resource-versions/good", checker: ResourceVersions{}, h: good()},
		{name: "watches/good", checker: Watches{}, h: good()},
		{name: "list-replay/good", checker: ListReplay{}, h: good()},
		{name: "conflicts/good", checker: Conflicts{}, h: good()},
		{name: "convergence/good", checker: Convergence{}, h: good()},

		// Linearizability.
		{name: "linearizability/stale read", checker: &Linearizability{}, wantViolation: "not linearizable",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 3, Master: "m3", Kind: history.Get, Key: "k1", Value: "v1", Call: 41, Return: 44, Outcome: history.OK, RV: 5})
			})},
		{name: "linearizability/read of a value never written", checker: &Linearizability{}, wantViolation: "not linearizable",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 3, Master: "m3", Kind: history.Get, Key: "k2", Value: "v9", Call: 61, Return: 62, Outcome: history.OK, RV: 8})
			})},
		{name: "linearizability/unknown write resolved from the log", checker: &Linearizability{},
			h: mutate(func(h *history.History) {
				h.Ops[2].Outcome, h.Ops[2].RV, h.Ops[2].Status = history.Unknown, 0, 504
			})},
		{name: "linearizability/unknown write absent from a complete log is dropped", checker: &Linearizability{},
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 4, Master: "m3", Kind: history.Update, Key: "k2", Value: "v8", Call: 61, Return: 66, Outcome: history.Unknown})
			})},
		{name: "linearizability/409 on a fresh precondition", checker: &Linearizability{}, wantViolation: "not linearizable",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 4, Master: "m3", Kind: history.Update, Key: "k2", Value: "v8", PrecondRV: 8, Call: 61, Return: 66, Outcome: history.Conflict, Status: 409})
			})},
		{name: "linearizability/resourceVersion goes back", checker: &Linearizability{}, wantViolation: "not linearizable",
			h: mutate(func(h *history.History) { h.Ops[2].RV = 4 })},

		{name: "linearizability/409 on a delete whose precondition is the client's own latest write", checker: &Linearizability{}, wantViolation: "not linearizable",
			// The bug the quiet scenario found: a follower checked the precondition on its stale copy.
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 0, Master: "m2", Kind: history.Delete, Key: "k1", PrecondRV: 7, Call: 41, Return: 45, Outcome: history.Conflict, Status: 409})
			})},

		// Deployments and bindings.
		{name: "deployments/no deployment workload", checker: Deployments{}, h: good()},
		{name: "deployments/converged", checker: Deployments{},
			h: mutate(func(h *history.History) {
				h.Deployment = &history.DeploymentFinal{Name: "app", Replicas: 3, Template: "r2", Converged: true,
					ReplicaSets: []history.ReplicaSetState{{Name: "a", Template: "r1"}, {Name: "b", Template: "r2", Spec: 3, Status: 3}}}
			})},
		{name: "deployments/old replica set still up", checker: Deployments{}, wantViolation: "did not converge",
			h: mutate(func(h *history.History) {
				h.Deployment = &history.DeploymentFinal{Name: "app", Replicas: 3, Template: "r2",
					ReplicaSets: []history.ReplicaSetState{{Name: "a", Template: "r1", Spec: 1, Status: 1}, {Name: "b", Template: "r2", Spec: 3, Status: 3}}}
			})},
		{name: "bindings/bound once", checker: Bindings{},
			h: mutate(func(h *history.History) {
				h.Bindings = []history.Binding{{UID: "u1", Pod: "p1"}, {UID: "u1", Pod: "p1", Node: "n1"}, {UID: "u2", Pod: "p2"}}
			})},
		{name: "bindings/bound twice", checker: Bindings{}, wantViolation: "bound to 2 nodes",
			h: mutate(func(h *history.History) {
				h.Bindings = []history.Binding{{UID: "u1", Pod: "p1", Node: "n1"}, {UID: "u1", Pod: "p1", Node: "n2"}}
			})},

		// Lost writes.
		{name: "lost-writes/acknowledged update missing from the log and the final state", checker: LostWrites{}, wantViolation: "missing from every watch stream",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 4, Master: "m1", Kind: history.Update, Key: "k2", Value: "v5", PrecondRV: 8, Call: 76, Return: 80, Outcome: history.OK, RV: 9})
			})},
		{name: "lost-writes/final state older than the acknowledged write", checker: LostWrites{}, wantViolation: "is lost",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 4, Master: "m1", Kind: history.Update, Key: "k2", Value: "v5", PrecondRV: 8, Call: 76, Return: 80, Outcome: history.OK, RV: 10})
				for i := range h.Finals {
					h.Finals[i].RV = 10
				}
			})},

		// Resource versions.
		{name: "resource-versions/two writes share one", checker: ResourceVersions{}, wantViolation: "share resourceVersion",
			h: mutate(func(h *history.History) { h.Ops[5].RV = 7 })},
		{name: "resource-versions/stale list", checker: ResourceVersions{}, wantViolation: "stale read",
			h: mutate(func(h *history.History) { h.Ops[4].RV = 5 })},
		{name: "resource-versions/list goes back in time for one client", checker: ResourceVersions{}, wantViolation: "back in time",
			h: mutate(func(h *history.History) {
				h.Ops = append(h.Ops, history.Op{Client: 2, Master: "m1", Kind: history.List, Call: 36, Return: 37, Outcome: history.OK, RV: 7})
				h.Ops[4].RV, h.Ops[4].Call = 5, 38 // a later list by the same client at a lower revision
				h.Ops[2].Return = 39
			})},

		// Watches.
		{name: "watches/duplicated event", checker: Watches{}, wantViolation: "duplicate event",
			h: mutate(func(h *history.History) {
				s := &h.Streams[0]
				s.Events = append(s.Events[:2:2], append([]history.Event{s.Events[1]}, s.Events[2:]...)...)
			})},
		{name: "watches/gap", checker: Watches{}, wantViolation: "skipped 1 events",
			h: mutate(func(h *history.History) {
				s := &h.Streams[2]
				s.Events = s.Events[1:] // drops k2@8 but goes on to 9
			})},
		{name: "watches/out of order", checker: Watches{}, wantViolation: "out of order",
			h: mutate(func(h *history.History) {
				s := &h.Streams[1]
				s.Events = []history.Event{s.Events[1], s.Events[0]}
			})},
		{name: "watches/event at the start revision", checker: Watches{}, wantViolation: "not after the start",
			h: mutate(func(h *history.History) { h.Streams[2].StartRV = 8 })},
		{name: "watches/bookmark ahead of a later event", checker: Watches{}, wantViolation: "bookmark",
			h: mutate(func(h *history.History) { h.Streams[0].Events[3].RV = 9 })},
		{name: "watches/masters disagree", checker: Watches{}, wantViolation: "one stream saw",
			h: mutate(func(h *history.History) {
				h.Streams[1].Events = []history.Event{h.Streams[0].Events[0], {Type: history.Modified, Key: "k1", Value: "vX", RV: 7, At: 39}}
			})},

		// List replay.
		{name: "list-replay/list differs from the replay", checker: ListReplay{}, wantViolation: "differs from the replay",
			h: mutate(func(h *history.History) { h.Ops[4].Items[0].Value = "v1" })},

		// Conflicts.
		{name: "conflicts/refused write was applied", checker: Conflicts{}, wantViolation: "was answered conflict",
			h: mutate(func(h *history.History) { h.Ops[2].Outcome, h.Ops[2].Status = history.Conflict, 409 })},
		{name: "conflicts/two successes with one precondition", checker: Conflicts{}, wantViolation: "lost update",
			h: mutate(func(h *history.History) { h.Ops[3].Outcome, h.Ops[3].RV = history.OK, 8 })},
		{name: "conflicts/503 write was applied", checker: Conflicts{}, wantViolation: "was answered failed",
			h: mutate(func(h *history.History) { h.Ops[5].Outcome, h.Ops[5].Status = history.Failed, 503 })},

		// Convergence.
		{name: "convergence/different objects", checker: Convergence{}, wantViolation: "differ at resourceVersion",
			h: mutate(func(h *history.History) { h.Finals[1].Items = nil })},
		{name: "convergence/different hashes", checker: Convergence{}, wantViolation: "different state hashes",
			h: mutate(func(h *history.History) { h.Finals[1].Hash = "bb" })},
		{name: "convergence/a master did not answer", checker: Convergence{}, wantViolation: "did not report",
			h: mutate(func(h *history.History) { h.Finals[1].Err = "connection refused" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Run(context.Background(), tt.h, []Checker{tt.checker})[0]
			var got []string
			for _, v := range res.Violations {
				got = append(got, v.String())
			}
			if tt.wantViolation == "" {
				if len(got) > 0 {
					t.Errorf("%s.Check(history) = %q; want no violation", tt.checker.Name(), got)
				}
				return
			}
			if !strings.Contains(strings.Join(got, "\n"), tt.wantViolation) {
				t.Errorf("%s.Check(history) = %q; want a violation containing %q", tt.checker.Name(), got, tt.wantViolation)
			}
		})
	}
}

func TestLinearizabilityWritesVisualization(t *testing.T) {
	h := mutate(func(h *history.History) {
		h.Ops = append(h.Ops, history.Op{Client: 3, Master: "m3", Kind: history.Get, Key: "k1", Value: "v1", Call: 41, Return: 44, Outcome: history.OK, RV: 5})
	})
	res := (&Linearizability{}).Check(context.Background(), h)
	if len(res.Artifacts) != 1 {
		t.Fatalf("Check(stale read) artifacts = %d; want 1", len(res.Artifacts))
	}
	var buf bytes.Buffer
	if err := res.Artifacts[0].Write(&buf); err != nil || !strings.Contains(buf.String(), "<html") {
		t.Errorf("visualization = %d bytes, %v; want an HTML page", buf.Len(), err)
	}
}

func TestAvailability(t *testing.T) {
	h := good()
	got := Availability(h)
	if len(got) != 1 {
		t.Fatalf("Availability(good) = %v; want one window", got)
	}
	// The fault at 26: the first write sent after it returns at 40, the first read at 50, and
	// the first event for a newer write arrives at 38.
	want := Window{Kind: "kill-leader", Target: "m3", Write: 14, Read: 24, Watch: 12}
	if got[0] != want {
		t.Errorf("Availability(good) = %+v; want %+v", got[0], want)
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{name: "empty", in: nil, want: Stats{}},
		{name: "one", in: []time.Duration{5 * ms}, want: Stats{N: 1, P50: 5, P99: 5, Max: 5}},
		{name: "missing counted apart", in: []time.Duration{-1, 10 * ms, 30 * ms, 20 * ms}, want: Stats{N: 3, Missing: 1, P50: 20, P99: 30, Max: 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize(%v) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}
