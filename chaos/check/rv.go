package check

import (
	"context"
	"sort"

	"github.com/capstan-io/capstan/chaos/history"
)

// ResourceVersions checks the resourceVersions clients were given: separately acknowledged
// writes never share one; a write acknowledged before another was sent has the lower one;
// a consistent list returns a revision at least as high as every write acknowledged before
// it was sent; and one client's lists never go back in time, across masters and failovers.
type ResourceVersions struct{}

var _ Checker = ResourceVersions{}

// Name returns "resource-versions".
func (ResourceVersions) Name() string { return "resource-versions" }

// Check examines the acknowledged writes and lists.
func (ResourceVersions) Check(_ context.Context, h *history.History) Result {
	r := Result{Checker: "resource-versions"}
	var writes []history.Op
	byRV := map[uint64]history.Op{}
	for _, op := range h.Ops {
		if op.Outcome != history.OK || (op.Kind != history.Create && op.Kind != history.Update) {
			continue
		}
		if op.RV == 0 {
			r.violate(op.Key, op.Return, "acknowledged %s (op %d) carries no resourceVersion", op.Kind, op.ID)
			continue
		}
		if other, dup := byRV[op.RV]; dup {
			r.violate(op.Key, op.Return, "acknowledged writes op %d (%s %s) and op %d (%s %s) share resourceVersion %d", other.ID, other.Kind, other.Key, op.ID, op.Kind, op.Key, op.RV)
		}
		byRV[op.RV] = op
		writes = append(writes, op)
	}
	// byReturn and prefix maxima answer "highest RV acknowledged before time t".
	sort.Slice(writes, func(i, j int) bool { return writes[i].Return < writes[j].Return })
	prefix := make([]uint64, len(writes))
	for i, w := range writes {
		prefix[i] = w.RV
		if i > 0 {
			prefix[i] = max(prefix[i], prefix[i-1])
		}
	}
	ackedBefore := func(t int64) (uint64, int) {
		n := sort.Search(len(writes), func(i int) bool { return writes[i].Return >= t })
		if n == 0 {
			return 0, -1
		}
		// Report the write that holds the maximum, for the message.
		best := n - 1
		for best > 0 && writes[best].RV != prefix[n-1] {
			best--
		}
		return prefix[n-1], best
	}
	for _, w := range writes {
		r.Checked++
		if m, i := ackedBefore(w.Call); m >= w.RV {
			r.violate(w.Key, w.Call, "op %d (%s %s) got resourceVersion %d, but op %d (%s %s) was acknowledged with %d before it was sent", w.ID, w.Kind, w.Key, w.RV, writes[i].ID, writes[i].Kind, writes[i].Key, m)
		}
	}
	var lists []history.Op
	for _, op := range h.Ops {
		if op.Kind == history.List && op.Outcome == history.OK {
			lists = append(lists, op)
		}
	}
	sort.SliceStable(lists, func(i, j int) bool { return lists[i].Call < lists[j].Call })
	lastList := map[int]history.Op{}
	for _, op := range lists {
		r.Checked++
		if m, i := ackedBefore(op.Call); m > op.RV {
			r.violate("", op.Call, "consistent list op %d on %s returned resourceVersion %d, older than %d acknowledged (op %d) before it was sent: a stale read", op.ID, op.Master, op.RV, m, writes[i].ID)
		}
		if prev, ok := lastList[op.Client]; ok && op.RV < prev.RV {
			r.violate("", op.Call, "client %d's list went back in time: %d on %s after %d on %s", op.Client, op.RV, op.Master, prev.RV, prev.Master)
		}
		lastList[op.Client] = op
	}
	return r
}
