package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstan-io/capstan/raftstore/mvcc"
)

var epoch = time.Unix(1_700_000_000, 0)

func put(key string, rev uint64) Event {
	return Event{Type: Put, KV: mvcc.KeyValue{Key: key, Value: []byte("v"), ModRevision: rev, CreateRevision: rev, Version: 1}}
}

func newHub(t *testing.T, cfg Config, rev uint64) *Hub {
	t.Helper()
	h, err := NewHub(cfg, rev)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func small() Config { return Config{Capacity: 8, MaxLag: 8, MaxBatch: 100} }

// revs returns the revisions of events, for compact comparisons.
func revs(events []Event) []uint64 {
	var out []uint64
	for _, e := range events {
		out = append(out, e.Revision())
	}
	return out
}

func nextNow(t *testing.T, w *Watcher) (Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.Next(ctx, 0)
}

func TestWatchReplaysFromRevision(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		from    uint64
		want    []uint64
		wantErr error
	}{
		{name: "from floor", prefix: "/a/", from: 10, want: []uint64{11, 13, 14}},
		{name: "from middle", prefix: "/a/", from: 13, want: []uint64{14}},
		{name: "other prefix", prefix: "/b/", from: 10, want: []uint64{12}},
		{name: "all keys", prefix: "", from: 11, want: []uint64{12, 13, 14}},
		{name: "below floor", prefix: "/a/", from: 9, wantErr: ErrCompacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, small(), 10)
			h.Append(11, []Event{put("/a/1", 11)}, epoch)
			h.Append(12, []Event{put("/b/1", 12)}, epoch)
			h.Append(13, []Event{put("/a/2", 13)}, epoch)
			h.Append(14, []Event{put("/a/1", 14)}, epoch)
			w, err := h.Watch(tt.prefix, tt.from)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Watch(%q, %d) error = %v; want %v", tt.prefix, tt.from, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer w.Close()
			resp, err := nextNow(t, w)
			if err != nil {
				t.Fatal(err)
			}
			if got := revs(resp.Events); !cmp.Equal(got, tt.want) {
				t.Errorf("Next() revisions = %v; want %v", got, tt.want)
			}
			if resp.Revision != 14 {
				t.Errorf("Next().Revision = %d; want 14", resp.Revision)
			}
		})
	}
}

func TestEvictionMovesFloor(t *testing.T) {
	h := newHub(t, small(), 0)
	for rev := uint64(1); rev <= 20; rev++ {
		h.Append(rev, []Event{put("/k", rev)}, epoch)
	}
	if got, want := h.Floor(), uint64(12); got != want {
		t.Errorf("Floor() = %d; want %d", got, want)
	}
	if _, err := h.Watch("", 11); !errors.Is(err, ErrCompacted) {
		t.Errorf("Watch below floor error = %v; want ErrCompacted", err)
	}
	w, err := h.Watch("", 12)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nextNow(t, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := revs(resp.Events); !cmp.Equal(got, []uint64{13, 14, 15, 16, 17, 18, 19, 20}) {
		t.Errorf("replay after eviction = %v", got)
	}
}

func TestMaxAgeEvicts(t *testing.T) {
	h := newHub(t, Config{Capacity: 100, MaxLag: 100, MaxBatch: 100, MaxAge: time.Minute}, 0)
	h.Append(1, []Event{put("/k", 1)}, epoch)
	h.Append(2, []Event{put("/k", 2)}, epoch.Add(30*time.Second))
	h.Append(3, []Event{put("/k", 3)}, epoch.Add(90*time.Second))
	if got := h.Floor(); got != 1 {
		t.Errorf("Floor() = %d; want 1 (entry 1 is older than a minute when entry 3 arrives)", got)
	}
}

func TestSlowWatcherIsClosedAndDoesNotBlockAppend(t *testing.T) {
	h := newHub(t, Config{Capacity: 8, MaxLag: 4, MaxBatch: 100}, 0)
	w, err := h.Watch("", 0)
	if err != nil {
		t.Fatal(err)
	}
	for rev := uint64(1); rev <= 6; rev++ {
		h.Append(rev, []Event{put("/k", rev)}, epoch) // never blocks, whatever w does
	}
	if _, err := nextNow(t, w); !errors.Is(err, ErrLagged) {
		t.Fatalf("Next() on a lagging watcher error = %v; want ErrLagged", err)
	}
	if _, err := nextNow(t, w); !errors.Is(err, ErrClosed) {
		t.Errorf("Next() after lag error = %v; want ErrClosed", err)
	}
	if n := h.Watchers(); n != 0 {
		t.Errorf("Watchers() = %d after the lagging watcher closed; want 0", n)
	}
}

func TestResetClosesWatchers(t *testing.T) {
	h := newHub(t, small(), 0)
	w, _ := h.Watch("", 0)
	h.Append(1, []Event{put("/k", 1)}, epoch)
	h.Reset(100)
	if _, err := nextNow(t, w); !errors.Is(err, ErrReset) {
		t.Errorf("Next() after Reset error = %v; want ErrReset", err)
	}
	if got := h.Floor(); got != 100 {
		t.Errorf("Floor() after Reset(100) = %d", got)
	}
	if _, err := h.Watch("", 50); !errors.Is(err, ErrCompacted) {
		t.Errorf("Watch(50) after Reset(100) error = %v; want ErrCompacted", err)
	}
}

func TestFutureRevisionWaits(t *testing.T) {
	h := newHub(t, small(), 5)
	w, err := h.Watch("", 8)
	if err != nil {
		t.Fatal(err)
	}
	if rev, err := w.Progress(); err != nil || rev != 0 {
		t.Errorf("Progress() before reaching the start = %d, %v; want 0, nil", rev, err)
	}
	h.Append(6, []Event{put("/k", 6)}, epoch)
	h.Append(8, []Event{put("/k", 8)}, epoch)
	if rev, _ := w.Progress(); rev != 8 {
		t.Errorf("Progress() at the start revision = %d; want 8", rev)
	}
	h.Append(9, []Event{put("/k", 9)}, epoch)
	resp, err := nextNow(t, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := revs(resp.Events); !cmp.Equal(got, []uint64{9}) {
		t.Errorf("events of a watch from 8 = %v; want [9]", got)
	}
}

func TestProgressNotification(t *testing.T) {
	h := newHub(t, small(), 0)
	w, _ := h.Watch("/a/", 0)
	h.Append(1, []Event{put("/b/x", 1)}, epoch)
	h.Append(2, nil, epoch) // an entry without events still moves the head
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := w.Next(ctx, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Events) != 0 || resp.Revision != 2 {
		t.Errorf("Next() = %d events at %d; want a progress notification at 2", len(resp.Events), resp.Revision)
	}
}

func TestBatchesNeverSplitARevision(t *testing.T) {
	h := newHub(t, Config{Capacity: 16, MaxLag: 16, MaxBatch: 2}, 0)
	h.Append(1, []Event{put("/a", 1), put("/b", 1), put("/c", 1)}, epoch)
	h.Append(2, []Event{put("/d", 2)}, epoch)
	w, _ := h.Watch("", 0)
	w.cursor, w.rev = 0, 0 // read from the start of the ring
	resp, err := nextNow(t, w)
	if err != nil {
		t.Fatal(err)
	}
	if got := revs(resp.Events); !cmp.Equal(got, []uint64{1, 1, 1}) {
		t.Errorf("first batch = %v; want the whole of revision 1", got)
	}
	resp, _ = nextNow(t, w)
	if got := revs(resp.Events); !cmp.Equal(got, []uint64{2}) {
		t.Errorf("second batch = %v; want [2]", got)
	}
}

func TestConcurrentWatchersSeeEveryEventInOrder(t *testing.T) {
	const writes = 2000
	h := newHub(t, Config{Capacity: 4096, MaxLag: 4096, MaxBatch: 64}, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		w, err := h.Watch(fmt.Sprintf("/k%d", i%2), 0)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer w.Close()
			var last uint64
			seen := 0
			for seen < writes/2 {
				resp, err := nextNow(t, w)
				if err != nil {
					errs <- err
					return
				}
				for _, e := range resp.Events {
					if e.Revision() <= last {
						errs <- fmt.Errorf("watcher %d: revision %d after %d", i, e.Revision(), last)
						return
					}
					last = e.Revision()
					seen++
				}
			}
		}(i)
	}
	for rev := uint64(1); rev <= writes; rev++ {
		h.Append(rev, []Event{put(fmt.Sprintf("/k%d", rev%2), rev)}, epoch)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompactRaisesFloor(t *testing.T) {
	h := newHub(t, small(), 0)
	for rev := uint64(1); rev <= 5; rev++ {
		h.Append(rev, []Event{put("/k", rev)}, epoch)
	}
	behind, _ := h.Watch("", 1)
	h.Compact(3)
	if got := h.Floor(); got != 3 {
		t.Errorf("Floor() after Compact(3) = %d; want 3", got)
	}
	if _, err := h.Watch("", 2); !errors.Is(err, ErrCompacted) {
		t.Errorf("Watch(2) after Compact(3): %v; want ErrCompacted", err)
	}
	if _, err := nextNow(t, behind); !errors.Is(err, ErrLagged) {
		t.Errorf("a watcher behind the compaction point: %v; want ErrLagged", err)
	}
	w, _ := h.Watch("", 3)
	resp, err := nextNow(t, w)
	if err != nil || !cmp.Equal(revs(resp.Events), []uint64{4, 5}) {
		t.Errorf("watch from the compaction point = %v, %v; want [4 5]", revs(resp.Events), err)
	}
}
