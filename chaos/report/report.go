package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/capstan-io/capstan/chaos/check"
	"github.com/capstan-io/capstan/chaos/history"
)

// Run describes the run being reported.
type Run struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Masters  int    `json:"masters"`
	// Duration is the planned traffic duration; Elapsed the run's wall time.
	Duration string `json:"duration"`
	Elapsed  string `json:"elapsed"`
	// Timeouts are the masters' Raft heartbeat and election timeouts.
	Timeouts string `json:"timeouts"`
	// LogStore is the masters' Raft log store.
	LogStore string `json:"logStore,omitempty"`
	// Command reproduces the run.
	Command string `json:"command"`
	// Notes are facts the runner wants on record (skipped faults, watchers that lagged...).
	Notes []string `json:"notes,omitempty"`
}

// Operations counts the workload's operations.
type Operations struct {
	Total     int            `json:"total"`
	ByKind    map[string]int `json:"byKind"`
	ByOutcome map[string]int `json:"byOutcome"`
	Streams   int            `json:"watchStreams"`
	Events    int            `json:"watchEvents"`
}

// Unavailability is one fault kind's windows, summarized.
type Unavailability struct {
	Write check.Stats `json:"write"`
	Read  check.Stats `json:"read"`
	Watch check.Stats `json:"watch"`
}

// Target is one of the stated availability targets and how the run measured against it.
type Target struct {
	Name string `json:"name"`
	// LimitMs is the target; MeasuredMs the run's p99 (n samples). Met is false when the
	// run had no samples.
	LimitMs    float64 `json:"limitMs"`
	MeasuredMs float64 `json:"measuredMs"`
	N          int     `json:"n"`
	Met        bool    `json:"met"`
}

// Report is a run's result.
type Report struct {
	Run
	Started time.Time `json:"started"`
	// OK is true when no checker found a violation.
	OK bool `json:"ok"`
	// Faults counts injected faults by kind; Skipped says why kinds could not run here.
	Faults  map[string]int    `json:"faults"`
	Skipped map[string]string `json:"skipped,omitempty"`
	// FaultLog lists every fault in order.
	FaultLog   []history.Fault `json:"faultLog"`
	Operations Operations      `json:"operations"`
	// Violations counts violations by checker (every checker is listed).
	Violations map[string]int `json:"violations"`
	// Checks are the checkers' full results.
	Checks []check.Result `json:"checks"`
	// Unavailability summarizes the windows per fault kind; Windows lists them.
	Unavailability map[string]Unavailability `json:"unavailability"`
	Windows        []check.Window            `json:"windows"`
	Targets        []Target                  `json:"targets"`
}

// Targets stated for every run (RELIABILITY.md §7).
var targets = []struct {
	name  string
	kind  string
	limit time.Duration
}{
	{"write unavailability after a leader SIGKILL, p99 (500 ms timeouts)", "kill-leader", 1500 * time.Millisecond},
	{"write unavailability after a graceful leadership transfer, p99", "transfer-leader", 300 * time.Millisecond},
}

// Build assembles the report of a checked history.
func Build(run Run, h *history.History, results []check.Result) *Report {
	r := &Report{Run: run, Started: h.Started, OK: true, Faults: map[string]int{}, Skipped: map[string]string{},
		FaultLog: h.Faults, Violations: map[string]int{}, Checks: results, Unavailability: map[string]Unavailability{}}
	for _, f := range h.Faults {
		if f.Skipped != "" {
			r.Skipped[f.Kind] = f.Skipped
			continue
		}
		r.Faults[f.Kind]++
	}
	r.Operations = Operations{Total: len(h.Ops), ByKind: map[string]int{}, ByOutcome: map[string]int{}, Streams: len(h.Streams)}
	for _, op := range h.Ops {
		r.Operations.ByKind[string(op.Kind)]++
		r.Operations.ByOutcome[string(op.Outcome)]++
	}
	for _, s := range h.Streams {
		r.Operations.Events += len(s.Events)
	}
	for _, res := range results {
		r.Violations[res.Checker] = len(res.Violations)
		if len(res.Violations) > 0 {
			r.OK = false
		}
	}
	r.Windows = check.Availability(h)
	byKind := map[string][3][]time.Duration{}
	for _, w := range r.Windows {
		d := byKind[w.Kind]
		d[0], d[1], d[2] = append(d[0], w.Write), append(d[1], w.Read), append(d[2], w.Watch)
		byKind[w.Kind] = d
	}
	for kind, d := range byKind {
		r.Unavailability[kind] = Unavailability{Write: check.Summarize(d[0]), Read: check.Summarize(d[1]), Watch: check.Summarize(d[2])}
	}
	for _, t := range targets {
		u := r.Unavailability[t.kind]
		limit := float64(t.limit / time.Millisecond)
		r.Targets = append(r.Targets, Target{Name: t.name, LimitMs: limit, MeasuredMs: u.Write.P99, N: u.Write.N, Met: u.Write.N > 0 && u.Write.Missing == 0 && u.Write.P99 <= limit})
	}
	return r
}

// Write writes report.json and summary.txt into dir, and on violations history.json and the
// checkers' artifacts.
func (r *Report) Write(dir string, h *history.History, results []check.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(r.Summary()), 0o644); err != nil {
		return err
	}
	if r.OK {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, "history.json"))
	if err != nil {
		return err
	}
	if err := h.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, res := range results {
		for _, a := range res.Artifacts {
			af, err := os.Create(filepath.Join(dir, a.Name))
			if err != nil {
				return err
			}
			werr := a.Write(af)
			if cerr := af.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return fmt.Errorf("write %s: %w", a.Name, werr)
			}
		}
	}
	return nil
}

// Summary renders the report for people.
func (r *Report) Summary() string {
	var b strings.Builder
	verdict := "PASS: no invariant violated"
	if !r.OK {
		verdict = "FAIL: invariants violated"
	}
	fmt.Fprintf(&b, "capstan chaos: scenario %s, seed %d, %d masters, %s of traffic (%s elapsed), Raft timeouts %s, log store %s\n%s\n\n", r.Scenario, r.Seed, r.Masters, r.Duration, r.Elapsed, r.Timeouts, r.LogStore, verdict)
	fmt.Fprintf(&b, "replay: %s\n\n", r.Command)

	fmt.Fprintf(&b, "faults injected:\n")
	for _, k := range sortedKeys(r.Faults) {
		fmt.Fprintf(&b, "  %-18s %d\n", k, r.Faults[k])
	}
	for _, k := range sortedKeys(r.Skipped) {
		fmt.Fprintf(&b, "  %-18s skipped: %s\n", k, r.Skipped[k])
	}
	fmt.Fprintf(&b, "\noperations: %d (", r.Operations.Total)
	writeCounts(&b, r.Operations.ByKind)
	fmt.Fprintf(&b, "); outcomes: ")
	writeCounts(&b, r.Operations.ByOutcome)
	fmt.Fprintf(&b, "\nwatch streams: %d with %d events\n", r.Operations.Streams, r.Operations.Events)

	fmt.Fprintf(&b, "\nunavailability per fault kind (ms; write / read / watch, p50 p99 max, n):\n")
	for _, k := range sortedKeys(r.Unavailability) {
		u := r.Unavailability[k]
		fmt.Fprintf(&b, "  %-18s write %s  read %s  watch %s\n", k, statsText(u.Write), statsText(u.Read), statsText(u.Watch))
	}
	fmt.Fprintf(&b, "\ntargets:\n")
	for _, t := range r.Targets {
		status := "met"
		switch {
		case t.N == 0:
			status = "not measured (no such fault in this run)"
		case !t.Met:
			status = "MISSED"
		}
		fmt.Fprintf(&b, "  %s: %.0f ms (limit %.0f ms, n=%d) %s\n", t.Name, t.MeasuredMs, t.LimitMs, t.N, status)
	}
	fmt.Fprintf(&b, "\ncheckers:\n")
	for _, c := range r.Checks {
		status := "ok"
		if !c.OK() {
			status = fmt.Sprintf("%d VIOLATIONS", len(c.Violations))
		}
		fmt.Fprintf(&b, "  %-18s %s (checked %d", c.Checker, status, c.Checked)
		if c.Unverified > 0 {
			fmt.Fprintf(&b, ", unverified %d", c.Unverified)
		}
		fmt.Fprintf(&b, ")\n")
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "      %s\n", n)
		}
		for i, v := range c.Violations {
			if i == 10 {
				fmt.Fprintf(&b, "      ... %d more in report.json\n", len(c.Violations)-10)
				break
			}
			fmt.Fprintf(&b, "    ! %s\n", v)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\nfault log (ms since start):\n")
	for _, f := range r.FaultLog {
		fmt.Fprintf(&b, "  %8.0f %-18s %-6s", ms(f.Inject), f.Kind, f.Target)
		switch {
		case f.Skipped != "":
			fmt.Fprintf(&b, " skipped")
		case f.Err != "":
			fmt.Fprintf(&b, " error: %s", f.Err)
		default:
			fmt.Fprintf(&b, " healed %+.0f, recovered %+.0f", ms(f.Healed-f.Inject), ms(f.Recovered-f.Inject))
		}
		if f.Note != "" {
			fmt.Fprintf(&b, " (%s)", f.Note)
		}
		fmt.Fprintln(&b)
	}
	return b.String()
}

func ms(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }

func statsText(s check.Stats) string {
	if s.N == 0 {
		if s.Missing > 0 {
			return fmt.Sprintf("none (%d missing)", s.Missing)
		}
		return "-"
	}
	out := fmt.Sprintf("%.0f %.0f %.0f n=%d", s.P50, s.P99, s.Max, s.N)
	if s.Missing > 0 {
		out += fmt.Sprintf(" (%d missing)", s.Missing)
	}
	return out
}

func writeCounts(b *strings.Builder, m map[string]int) {
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %d", k, m[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
