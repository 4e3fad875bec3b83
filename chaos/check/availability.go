package check

import (
	"math"
	"sort"
	"time"

	"github.com/capstan-io/capstan/chaos/history"
)

// Window is how long one fault kept clients from succeeding: from the fault's injection to the
// first successful operation of each class sent at or after it. A class with no success
// before the next fault (or the end of the run) has a negative duration.
type Window struct {
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// Write is to the first acknowledged create, update or delete.
	Write time.Duration `json:"write"`
	// Read is to the first successful linearizable get or list.
	Read time.Duration `json:"read"`
	// Watch is to the first watch event for a write acknowledged after the fault.
	Watch time.Duration `json:"watch"`
}

// Availability measures a Window for every fault that ran.
func Availability(h *history.History) []Window {
	faults := make([]history.Fault, 0, len(h.Faults))
	for _, f := range h.Faults {
		if f.Skipped == "" && f.Err == "" {
			faults = append(faults, f)
		}
	}
	sort.Slice(faults, func(i, j int) bool { return faults[i].Inject < faults[j].Inject })
	var events []history.Event
	for _, s := range h.Streams {
		for _, e := range s.Events {
			if e.Type != history.Bookmark {
				events = append(events, e)
			}
		}
	}
	sort.Slice(events, func(i, j int) bool { return events[i].At < events[j].At })
	out := make([]Window, 0, len(faults))
	for i, f := range faults {
		end := int64(math.MaxInt64)
		if i+1 < len(faults) {
			end = faults[i+1].Inject
		}
		w := Window{Kind: f.Kind, Target: f.Target, Write: -1, Read: -1, Watch: -1}
		var before uint64 // highest RV acknowledged before the fault
		firstWrite, firstRead := int64(-1), int64(-1)
		for _, op := range h.Ops {
			if op.Outcome != history.OK {
				continue
			}
			if op.Kind.IsWrite() && op.Return < f.Inject {
				before = max(before, op.RV)
			}
			if op.Call < f.Inject || op.Return >= end {
				continue
			}
			if op.Kind.IsWrite() && (firstWrite < 0 || op.Return < firstWrite) {
				firstWrite = op.Return
			}
			if !op.Kind.IsWrite() && (firstRead < 0 || op.Return < firstRead) {
				firstRead = op.Return
			}
		}
		if firstWrite >= 0 {
			w.Write = time.Duration(firstWrite - f.Inject)
		}
		if firstRead >= 0 {
			w.Read = time.Duration(firstRead - f.Inject)
		}
		j := sort.Search(len(events), func(j int) bool { return events[j].At >= f.Inject })
		for ; j < len(events) && events[j].At < end; j++ {
			if events[j].RV > before {
				w.Watch = time.Duration(events[j].At - f.Inject)
				break
			}
		}
		out = append(out, w)
	}
	return out
}

// Stats summarizes durations in milliseconds.
type Stats struct {
	N int `json:"n"`
	// Missing counts faults after which no success came before the next fault.
	Missing int     `json:"missing,omitempty"`
	P50     float64 `json:"p50Ms"`
	P99     float64 `json:"p99Ms"`
	Max     float64 `json:"maxMs"`
}

// Summarize computes Stats over ds; negative durations count as missing.
func Summarize(ds []time.Duration) Stats {
	var ms []float64
	s := Stats{}
	for _, d := range ds {
		if d < 0 {
			s.Missing++
			continue
		}
		ms = append(ms, float64(d)/float64(time.Millisecond))
	}
	s.N = len(ms)
	if len(ms) == 0 {
		return s
	}
	sort.Float64s(ms)
	s.P50, s.P99, s.Max = percentile(ms, 0.50), percentile(ms, 0.99), ms[len(ms)-1]
	return s
}

// percentile returns the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return math.Round(sorted[rank]*10) / 10
}
