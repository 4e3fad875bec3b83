package watch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-io/capstan/raftstore/mvcc"
)

// EventType says what happened to a key.
type EventType uint8

const (
	// Put means the key was created or updated.
	Put EventType = iota + 1
	// Delete means the key was deleted.
	Delete
)

func (t EventType) String() string {
	switch t {
	case Put:
		return "PUT"
	case Delete:
		return "DELETE"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is one change to one key.
type Event struct {
	Type EventType
	// KV is the key's new state. For a Delete it holds the key and, as ModRevision, the
	// revision of the deletion; Value is nil.
	KV mvcc.KeyValue
	// Prev is the key's state before the change; HasPrev is false when the key did not exist.
	Prev    mvcc.KeyValue
	HasPrev bool
}

// Revision returns the revision at which the event happened.
func (e Event) Revision() uint64 { return e.KV.ModRevision }

// Config bounds the hub's history and its watchers.
type Config struct {
	// Capacity is the number of entries (revisions with events) kept for resuming watches.
	Capacity int
	// MaxAge drops entries older than this when new ones arrive; 0 keeps entries until
	// Capacity forces them out.
	MaxAge time.Duration
	// MaxLag is how many entries a watcher may trail the head before it is closed with
	// ErrLagged. It is at most Capacity.
	MaxLag int
	// MaxBatch caps the events one Next call returns; an entry's events are never split, so a
	// single larger entry is still returned whole.
	MaxBatch int
}

// DefaultConfig returns the hub limits Capstan uses.
func DefaultConfig() Config {
	return Config{Capacity: 100_000, MaxAge: 10 * time.Minute, MaxLag: 50_000, MaxBatch: 1000}
}

// Validate reports limits that cannot work.
func (c Config) Validate() error {
	if c.Capacity < 1 {
		return fmt.Errorf("watch: Capacity %d must be at least 1", c.Capacity)
	}
	if c.MaxLag < 1 || c.MaxLag > c.Capacity {
		return fmt.Errorf("watch: MaxLag %d must be between 1 and Capacity %d", c.MaxLag, c.Capacity)
	}
	if c.MaxBatch < 1 {
		return fmt.Errorf("watch: MaxBatch %d must be at least 1", c.MaxBatch)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("watch: MaxAge %s must not be negative", c.MaxAge)
	}
	return nil
}

// entry holds the events of one revision.
type entry struct {
	rev    uint64
	at     time.Time
	events []Event
}

// Hub is the bounded history of events. Append is called by the single state-machine
// goroutine; Watch and the Watchers it returns may be used from any goroutine.
type Hub struct {
	cfg Config

	mu sync.RWMutex // protects every field below
	// ring holds entries with sequence numbers [first, next); entry seq lives at seq%len(ring).
	ring  []entry
	first uint64
	next  uint64
	// floor is the revision below which history is gone: every event with a revision above
	// floor is in the ring.
	floor uint64
	// head is the latest applied revision (with or without events).
	head uint64
	// epoch changes on Reset; watchers from another epoch fail with ErrReset.
	epoch uint64
	// notify is closed and replaced whenever head moves or a Reset happens.
	notify chan struct{}
	// closed is set by Close.
	closed bool

	watchers atomic.Int64
}

// NewHub returns a hub whose history starts at revision rev.
func NewHub(cfg Config, rev uint64) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Hub{cfg: cfg, ring: make([]entry, cfg.Capacity), floor: rev, head: rev, notify: make(chan struct{})}, nil
}

// Batch is the events of one revision, for AppendBatch.
type Batch struct {
	Revision uint64
	Events   []Event
}

// Append records that revision rev was applied with the given events (possibly none). It
// never blocks on watchers. Revisions must grow.
func (h *Hub) Append(rev uint64, events []Event, now time.Time) {
	h.AppendBatch([]Batch{{Revision: rev, Events: events}}, rev, now)
}

// AppendBatch records several revisions at once, then moves the head to head (which may be
// past the last batch when entries without events followed), waking watchers once.
func (h *Hub) AppendBatch(batches []Batch, head uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if head < h.head {
		panic(fmt.Sprintf("watch: revision going backwards: %d < %d", head, h.head))
	}
	for _, b := range batches {
		h.appendLocked(b.Revision, b.Events, now)
	}
	if head == h.head {
		return
	}
	h.head = head
	close(h.notify)
	h.notify = make(chan struct{})
}

func (h *Hub) appendLocked(rev uint64, events []Event, now time.Time) {
	if len(events) == 0 {
		return
	}
	if rev <= h.head || (h.next > h.first && rev <= h.ring[(h.next-1)%uint64(len(h.ring))].rev) {
		panic(fmt.Sprintf("watch: events at revision %d do not follow the head %d", rev, h.head))
	}
	if h.next-h.first == uint64(len(h.ring)) {
		h.evictLocked()
	}
	h.ring[h.next%uint64(len(h.ring))] = entry{rev: rev, at: now, events: events}
	h.next++
	if h.cfg.MaxAge > 0 {
		for h.first < h.next-1 && now.Sub(h.ring[h.first%uint64(len(h.ring))].at) > h.cfg.MaxAge {
			h.evictLocked()
		}
	}
}

func (h *Hub) evictLocked() {
	e := &h.ring[h.first%uint64(len(h.ring))]
	h.floor = e.rev
	*e = entry{}
	h.first++
}

// Reset drops all history after a restore to revision rev: every existing watcher fails with
// ErrReset, and new watches start from rev.
func (h *Hub) Reset(rev uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.ring)
	h.first, h.next = 0, 0
	h.floor, h.head = rev, rev
	h.epoch++
	close(h.notify)
	h.notify = make(chan struct{})
}

// Compact drops the history at and below rev, as a store compaction does: watches from those
// revisions fail with ErrCompacted and watchers still reading them with ErrLagged.
func (h *Hub) Compact(rev uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.first < h.next && h.ring[h.first%uint64(len(h.ring))].rev <= rev {
		h.evictLocked()
	}
	if rev > h.floor {
		h.floor = min(rev, h.head)
	}
}

// Close ends every watcher with ErrClosed and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.notify)
		h.notify = make(chan struct{})
	}
}

// Head returns the latest revision appended.
func (h *Hub) Head() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.head
}

// Floor returns the oldest revision a watch can start from.
func (h *Hub) Floor() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.floor
}

// Watchers returns the number of open watchers.
func (h *Hub) Watchers() int { return int(h.watchers.Load()) }

// Watch returns a watcher for the keys under prefix that delivers every event with a revision
// above from. from 0 means the current head. A from above the head waits for the store to reach
// it; a from below the retained history fails with ErrCompacted.
func (h *Hub) Watch(prefix string, from uint64) (*Watcher, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return nil, ErrClosed
	}
	if from == 0 {
		from = h.head
	}
	if from < h.floor {
		return nil, fmt.Errorf("%w: revision %d is older than the oldest retained revision %d", ErrCompacted, from, h.floor)
	}
	h.watchers.Add(1)
	return &Watcher{hub: h, prefix: prefix, cursor: h.seekLocked(from), rev: from, start: from, epoch: h.epoch}, nil
}

// seekLocked returns the sequence number of the first entry above rev.
func (h *Hub) seekLocked(rev uint64) uint64 {
	n := int(h.next - h.first)
	i := sort.Search(n, func(i int) bool {
		return h.ring[(h.first+uint64(i))%uint64(len(h.ring))].rev > rev
	})
	return h.first + uint64(i)
}

// Response is what Next returns: the events of one or more whole revisions, or none for a
// progress notification.
type Response struct {
	// Events are the matching events in revision order; all events of a revision are in the
	// same Response.
	Events []Event
	// Revision is the watcher's progress: every matching event up to and including it has
	// been delivered, and every later event has a higher revision.
	Revision uint64
}

// Watcher reads the hub's history for one prefix. It is used by one goroutine at a time.
type Watcher struct {
	hub    *Hub
	prefix string
	epoch  uint64
	start  uint64 // the revision the watch started after

	cursor uint64 // sequence number of the next entry to read
	rev    uint64 // progress, see Response.Revision
	closed bool
}

// Next blocks until matching events are available, then returns them. When progressAfter is
// positive and no matching event arrives for that long after the store has moved past the
// watcher's start, Next returns a progress notification (no events) instead. Next returns
// ctx's error when ctx ends, and ErrLagged, ErrReset or ErrClosed when the watcher cannot go on.
func (w *Watcher) Next(ctx context.Context, progressAfter time.Duration) (Response, error) {
	var timer <-chan time.Time
	if progressAfter > 0 {
		t := time.NewTimer(progressAfter)
		defer t.Stop()
		timer = t.C
	}
	for {
		resp, notify, err := w.poll(false)
		if err != nil || len(resp.Events) > 0 {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return Response{}, ctx.Err()
		case <-notify:
		case <-timer:
			rev, err := w.Progress()
			if err != nil || rev > 0 {
				return Response{Revision: rev}, err
			}
			timer = nil // the store has not reached the start revision yet: no progress to report
		}
	}
}

// Progress returns the revision up to which the watcher has seen every matching event without
// delivering anything. It is 0 while the store has not yet reached the watch's start revision
// and the watcher's last delivered revision while matching events are pending.
func (w *Watcher) Progress() (uint64, error) {
	resp, _, err := w.poll(true)
	if err != nil {
		return 0, err
	}
	if w.hub.Head() < w.start {
		return 0, nil
	}
	return resp.Revision, nil
}

// poll reads what is available. With onlyProgress it returns no events: it advances over
// entries without matching events and stops before the first matching one.
func (w *Watcher) poll(onlyProgress bool) (Response, <-chan struct{}, error) {
	h := w.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	switch {
	case w.closed:
		return Response{}, nil, ErrClosed
	case h.closed:
		w.close()
		return Response{}, nil, ErrClosed
	case w.epoch != h.epoch:
		w.close()
		return Response{}, nil, ErrReset
	case w.cursor < h.first, h.next-w.cursor > uint64(h.cfg.MaxLag):
		w.close()
		return Response{}, nil, fmt.Errorf("%w: %d revisions behind the head %d", ErrLagged, h.next-w.cursor, h.head)
	}
	var events []Event
	for ; w.cursor < h.next; w.cursor++ {
		e := &h.ring[w.cursor%uint64(len(h.ring))]
		if e.rev <= w.rev {
			continue // a watch from a future revision skips what it did not ask for
		}
		first := len(events)
		for _, ev := range e.events {
			if strings.HasPrefix(ev.KV.Key, w.prefix) {
				if onlyProgress {
					return Response{Revision: w.rev}, h.notify, nil
				}
				events = append(events, ev)
			}
		}
		if len(events) > first {
			w.rev = e.rev
		}
		if len(events) >= h.cfg.MaxBatch {
			w.cursor++
			return Response{Events: events, Revision: w.rev}, h.notify, nil
		}
	}
	if h.head > w.rev {
		w.rev = h.head // every entry up to head has been scanned
	}
	return Response{Events: events, Revision: w.rev}, h.notify, nil
}

// Close releases the watcher. It is safe to call more than once, but not concurrently with Next.
func (w *Watcher) Close() {
	w.hub.mu.RLock()
	defer w.hub.mu.RUnlock()
	w.close()
}

func (w *Watcher) close() {
	if !w.closed {
		w.closed = true
		w.hub.watchers.Add(-1)
	}
}
