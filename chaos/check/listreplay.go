package check

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/capstan-io/capstan/chaos/history"
)

// ListReplay checks that every successful list, and every master's final list, equals the
// replay of the write log up to the list's revision. Lists at revisions the watch streams did
// not fully cover are counted as unverified.
type ListReplay struct{}

var _ Checker = ListReplay{}

// Name returns "list-replay".
func (ListReplay) Name() string { return "list-replay" }

type listAt struct {
	what  string
	rv    uint64
	at    int64
	items []history.Item
}

// Check replays the log.
func (ListReplay) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "list-replay"}
	l := buildLog(h)
	var lists []listAt
	for _, op := range h.Ops {
		if op.Kind == history.List && op.Outcome == history.OK {
			lists = append(lists, listAt{fmt.Sprintf("list op %d on %s", op.ID, op.Master), op.RV, op.Return, op.Items})
		}
	}
	for _, f := range h.Finals {
		if f.Err == "" && f.RV > 0 {
			lists = append(lists, listAt{"final list on " + f.Master, f.RV, 0, f.Items})
		}
	}
	sort.SliceStable(lists, func(i, j int) bool { return lists[i].rv < lists[j].rv })
	rep := l.replayer()
	for _, ls := range lists {
		if ls.rv < l.base || !l.coversFromBase(ls.rv) {
			r.Unverified++
			continue
		}
		r.Checked++
		want := rep.advance(ls.rv)
		if diff := diffItems(want, ls.items); diff != "" {
			r.violate("", ls.at, "%s at resourceVersion %d differs from the replay of the watch log: %s", ls.what, ls.rv, diff)
		}
	}
	if r.Unverified > 0 {
		r.note("%d lists fell in revisions the watch streams did not cover from the start", r.Unverified)
	}
	return r
}

// diffItems describes how got differs from want, or returns "".
func diffItems(want map[string]history.Item, got []history.Item) string {
	var d []string
	have := map[string]bool{}
	for _, it := range got {
		have[it.Key] = true
		w, ok := want[it.Key]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("%s=%q@%d is extra", it.Key, it.Value, it.RV))
		case w != it:
			d = append(d, fmt.Sprintf("%s is %q@%d, replay says %q@%d", it.Key, it.Value, it.RV, w.Value, w.RV))
		}
	}
	for k, w := range want {
		if !have[k] {
			d = append(d, fmt.Sprintf("%s=%q@%d is missing", k, w.Value, w.RV))
		}
	}
	sort.Strings(d)
	if len(d) > 5 {
		d = append(d[:5], fmt.Sprintf("and %d more", len(d)-5))
	}
	return strings.Join(d, "; ")
}
