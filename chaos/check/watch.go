package check

import (
	"context"
	"fmt"

	"github.com/capstan-io/capstan/chaos/history"
)

// Watches checks every watch stream: resourceVersions never decrease and no (revision, key)
// is delivered twice; the first event comes after the start revision; a bookmark is no lower
// than the events before it and lower than those after it; and, against the write log, no
// stream skipped an event between its start and the last revision it vouched for (a stream
// must end with 410 Gone rather than skip). It also reports masters that disagree on the log,
// a value written at two revisions, and two objects changed at one revision.
type Watches struct{}

var _ Checker = Watches{}

// Name returns "watches".
func (Watches) Name() string { return "watches" }

// Check examines the streams.
func (Watches) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "watches"}
	l := buildLog(h)
	for _, d := range l.disagreements {
		r.violate("", 0, "%s", d)
	}
	for i := 1; i < len(l.entries); i++ {
		if a, b := l.entries[i-1], l.entries[i]; a.RV == b.RV {
			r.violate(b.Key, b.At, "%s and %s changed at the same resourceVersion %d, though every write of the workload touches one object", a.Key, b.Key, b.RV)
		}
	}
	expired := 0
	for i := range h.Streams {
		s := &h.Streams[i]
		r.Checked++
		if s.Expired {
			expired++
		}
		checkStream(&r, s, l)
	}
	r.note("%d streams, %d ended with 410 Gone", len(h.Streams), expired)
	return r
}

func checkStream(r *Result, s *history.Stream, l *writeLog) {
	where := fmt.Sprintf("stream %d (%s on %s, from %d)", s.ID, s.Watcher, s.Master, s.StartRV)
	seen := map[rvKey]bool{}
	var last uint64 // highest event RV so far
	var bookmark uint64
	for _, ev := range s.Events {
		if ev.Type == history.Bookmark {
			if ev.RV < last {
				r.violate("", ev.At, "%s: bookmark at %d after an event at %d", where, ev.RV, last)
			}
			if ev.RV < s.StartRV {
				r.violate("", ev.At, "%s: bookmark at %d is below the start", where, ev.RV)
			}
			bookmark = max(bookmark, ev.RV)
			continue
		}
		k := rvKey{ev.RV, ev.Key}
		switch {
		case ev.RV <= s.StartRV:
			r.violate(ev.Key, ev.At, "%s: event at %d is not after the start revision", where, ev.RV)
		case seen[k]:
			r.violate(ev.Key, ev.At, "%s: duplicate event at %d", where, ev.RV)
		case ev.RV < last:
			r.violate(ev.Key, ev.At, "%s: event at %d after one at %d: out of order", where, ev.RV, last)
		case ev.RV <= bookmark:
			r.violate(ev.Key, ev.At, "%s: event at %d after a bookmark at %d promised nothing up to it remained", where, ev.RV, bookmark)
		}
		seen[k] = true
		last = max(last, ev.RV)
	}
	// Gaps: every log entry in (StartRV, LastRV] must be in the stream.
	upTo := s.LastRV()
	missing := 0
	var firstMissing *entry
	for _, e := range l.entries {
		if e.RV <= s.StartRV {
			continue
		}
		if e.RV > upTo {
			break
		}
		if !seen[rvKey{e.RV, e.Key}] {
			missing++
			if firstMissing == nil {
				firstMissing = e
			}
		}
	}
	if missing > 0 {
		r.violate(firstMissing.Key, firstMissing.At, "%s: skipped %d events up to %d it vouched for, the first at %d (%s)", where, missing, upTo, firstMissing.RV, describe(firstMissing))
	}
}
