package check

import (
	"fmt"
	"sort"

	"github.com/capstan-io/capstan/chaos/history"
)

// entry is one write in the reconstructed log.
type entry struct {
	RV  uint64
	Key string
	// Deleted is set for a deletion; Value is then the object's last value.
	Deleted bool
	Value   string
	// At is when a client first received it.
	At int64
}

type rvKey struct {
	rv  uint64
	key string
}

// span is a range (From, To] of revisions.
type span struct{ From, To uint64 }

// writeLog is the cluster's write log as the watch streams reported it.
type writeLog struct {
	entries []*entry // sorted by (RV, Key)
	byRVKey map[rvKey]*entry
	// written maps a written value to the log entry that wrote it.
	written map[string]*entry
	// seen maps a value to when a client first saw it anywhere (event, get, list, final).
	seen map[string]int64
	// coverage is the merged union of the ranges the streams vouched for.
	coverage []span
	// base is the lowest revision any stream started after.
	base uint64
	// disagreements are (RV, key) pairs streams reported differently, and values written at
	// two revisions.
	disagreements []string
}

func buildLog(h *history.History) *writeLog {
	l := &writeLog{byRVKey: map[rvKey]*entry{}, written: map[string]*entry{}, seen: map[string]int64{}}
	see := func(value string, at int64) {
		if value == "" {
			return
		}
		if t, ok := l.seen[value]; !ok || at < t {
			l.seen[value] = at
		}
	}
	var spans []span
	first := true
	for i := range h.Streams {
		s := &h.Streams[i]
		if first || s.StartRV < l.base {
			l.base, first = s.StartRV, false
		}
		if last := s.LastRV(); last > s.StartRV {
			spans = append(spans, span{s.StartRV, last})
		}
		for _, ev := range s.Events {
			if ev.Type == history.Bookmark {
				continue
			}
			e := &entry{RV: ev.RV, Key: ev.Key, Deleted: ev.Type == history.Deleted, Value: ev.Value, At: ev.At}
			see(ev.Value, ev.At)
			k := rvKey{ev.RV, ev.Key}
			if old, ok := l.byRVKey[k]; ok {
				if old.Deleted != e.Deleted || old.Value != e.Value {
					l.disagreements = append(l.disagreements, fmt.Sprintf("%s at resourceVersion %d: one stream saw %s, stream %d on %s saw %s",
						ev.Key, ev.RV, describe(old), s.ID, s.Master, describe(e)))
				}
				old.At = min(old.At, e.At)
				continue
			}
			l.byRVKey[k] = e
			l.entries = append(l.entries, e)
		}
	}
	sort.Slice(l.entries, func(i, j int) bool {
		a, b := l.entries[i], l.entries[j]
		if a.RV != b.RV {
			return a.RV < b.RV
		}
		return a.Key < b.Key
	})
	for _, e := range l.entries {
		if e.Deleted {
			continue
		}
		if prev, ok := l.written[e.Value]; ok && prev.RV != e.RV {
			l.disagreements = append(l.disagreements, fmt.Sprintf("value %q was written twice: at resourceVersion %d (%s) and %d (%s)",
				e.Value, prev.RV, prev.Key, e.RV, e.Key))
			continue
		}
		l.written[e.Value] = e
	}
	for _, op := range h.Ops {
		if op.Outcome != history.OK {
			continue
		}
		if op.Kind == history.Get {
			see(op.Value, op.Return)
		}
		for _, it := range op.Items {
			see(it.Value, op.Return)
		}
	}
	l.coverage = mergeSpans(spans)
	return l
}

func describe(e *entry) string {
	if e.Deleted {
		return fmt.Sprintf("a deletion (last value %q)", e.Value)
	}
	return fmt.Sprintf("value %q", e.Value)
}

func mergeSpans(spans []span) []span {
	sort.Slice(spans, func(i, j int) bool { return spans[i].From < spans[j].From })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, s.To)
			continue
		}
		out = append(out, s)
	}
	return out
}

// covers reports whether some stream vouched for revision rv.
func (l *writeLog) covers(rv uint64) bool {
	for _, s := range l.coverage {
		if rv > s.From && rv <= s.To {
			return true
		}
	}
	return false
}

// coversFromBase reports whether the streams vouched for every revision in (base, rv], so a
// replay of the log up to rv is the state at rv.
func (l *writeLog) coversFromBase(rv uint64) bool {
	if rv <= l.base {
		return true
	}
	return len(l.coverage) > 0 && l.coverage[0].From <= l.base && l.coverage[0].To >= rv
}

// coveredTo is the highest revision up to which the log is complete from the base.
func (l *writeLog) coveredTo() uint64 {
	if len(l.coverage) == 0 || l.coverage[0].From > l.base {
		return l.base
	}
	return l.coverage[0].To
}

// replayer applies the log in order to produce the state at increasing revisions.
type replayer struct {
	log   *writeLog
	next  int
	state map[string]history.Item
}

func (l *writeLog) replayer() *replayer {
	return &replayer{log: l, state: map[string]history.Item{}}
}

// advance applies every entry with RV <= rv; calls must not decrease rv.
func (r *replayer) advance(rv uint64) map[string]history.Item {
	for ; r.next < len(r.log.entries) && r.log.entries[r.next].RV <= rv; r.next++ {
		e := r.log.entries[r.next]
		if e.Deleted {
			delete(r.state, e.Key)
		} else {
			r.state[e.Key] = history.Item{Key: e.Key, Value: e.Value, RV: e.RV}
		}
	}
	return r.state
}
