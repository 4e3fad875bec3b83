package raftstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/capstan-io/capstan/raftstore/mvcc"
	"github.com/capstan-io/capstan/raftstore/watch"
)

// ReadOptions says how fresh a read must be.
type ReadOptions struct {
	// Stale reads this member's state as it is, without asking the leader. The zero value
	// reads linearizably: the result reflects every write acknowledged before the read began.
	Stale bool
	// MinRevision makes the read wait until this member has applied at least this revision.
	MinRevision uint64
}

// ListOptions selects a page of keys.
type ListOptions struct {
	ReadOptions
	// Revision reads the keys as they were at exactly this revision (for paging consistently
	// or resourceVersionMatch=Exact); 0 reads the latest state that ReadOptions allow.
	Revision uint64
	// Limit caps the number of keys returned; 0 means no limit.
	Limit int
	// After starts the page after this key (exclusive), for continuing a previous page.
	After string
}

// ListResult is a page of keys.
type ListResult struct {
	KVs []KeyValue
	// Revision is the revision the page was read at; continue at the same revision.
	Revision uint64
	// More reports whether keys after the last returned one remain.
	More bool
}

// ReadIndex returns a revision that reflects every write acknowledged before the call, after
// waiting until this member has applied it.
func (s *Store) ReadIndex(ctx context.Context) (uint64, error) {
	start := time.Now()
	ctx, cancel := s.requestContext(ctx)
	defer cancel()
	for attempt := 0; ; attempt++ {
		changed := s.leaderChanged()
		ri, err := s.readIndexOnce(ctx)
		if err == nil {
			if err := s.waitRevision(ctx, ri); err != nil {
				return 0, err
			}
			s.metrics.readIndexDuration.Observe(time.Since(start).Seconds())
			return s.fsm.revision(), nil
		}
		if !errors.Is(err, errNotLeader) && !errors.Is(err, errLeaderNotReady) && !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrUnknownOutcome) {
			return 0, err
		}
		if werr := s.retryWait(ctx, changed, attempt); errors.Is(werr, ErrStopped) || errors.Is(werr, ErrHalted) {
			return 0, werr
		} else if werr != nil {
			return 0, fmt.Errorf("%w: no read index before the deadline: %v (last attempt: %v)", ErrNoLeader, werr, err)
		}
	}
}

// readIndexOnce asks the leader this member knows, itself included, for a read index.
func (s *Store) readIndexOnce(ctx context.Context) (uint64, error) {
	if s.raft.State() == raft.Leader {
		return s.leaderReadIndex(ctx)
	}
	_, addr := s.Leader()
	if addr == "" {
		return 0, ErrNoLeader
	}
	out, err := s.peers.call(ctx, addr, methodReadIndex, nil)
	if err != nil {
		return 0, classifyRPCError(err)
	}
	return decodeReadIndexReply(out)
}

// leaderReadIndex implements the leader side of the read-index recipe: the term's barrier must
// be done, the index is captured before leadership is confirmed, and the term must not have
// changed in between.
func (s *Store) leaderReadIndex(ctx context.Context) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, errNotLeader
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		return 0, errLeaderNotReady
	}
	ri := s.fsm.revision()
	if err := s.verifyLeader(ctx); err != nil {
		return 0, err
	}
	if s.raft.CurrentTerm() != term {
		return 0, errLeaderNotReady
	}
	return ri, nil
}

// verifyLeader confirms leadership with a quorum, sharing one round among concurrent callers.
func (s *Store) verifyLeader(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case s.verifyCh <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.raftCtx.Done():
		return s.raftStopped()
	}
	select {
	case err := <-done:
		if err != nil {
			return wrapAs(errNotLeader, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.raftCtx.Done():
		return s.raftStopped() // verifyLoop has stopped, or stops after its current round
	}
}

// verifyLoop serves verifyLeader: every waiting caller shares the next VerifyLeader round,
// which starts after they enqueued, so it covers the indexes they captured. It exits once
// raftCtx ends; Raft is stopped only after that (stopRaft). The state check is for tests
// that stop Raft underneath the store.
func (s *Store) verifyLoop() {
	for s.raftCtx.Err() == nil {
		var batch []chan error
		select {
		case <-s.raftCtx.Done():
			return
		case first := <-s.verifyCh:
			batch = append(batch, first)
		}
	drain:
		for {
			select {
			case more := <-s.verifyCh:
				batch = append(batch, more)
			default:
				break drain
			}
		}
		err := raft.ErrRaftShutdown
		if s.raft.State() != raft.Shutdown {
			err = s.raft.VerifyLeader().Error()
		}
		for _, ch := range batch {
			ch <- err
		}
	}
}

// waitRevision blocks until this member has applied rev.
func (s *Store) waitRevision(ctx context.Context, rev uint64) error {
	for {
		published := s.fsm.published()
		if s.fsm.revision() >= rev {
			return nil
		}
		select {
		case <-published:
		case <-ctx.Done():
			return fmt.Errorf("%w: revision %d not reached (at %d): %v", ErrFutureRevision, rev, s.fsm.revision(), ctx.Err())
		case <-s.ctx.Done():
			return ErrStopped
		}
	}
}

// view returns a view that satisfies opts.
func (s *Store) view(ctx context.Context, opts ReadOptions) (*mvcc.View, error) {
	ctx, cancel := s.requestContext(ctx)
	defer cancel()
	if !opts.Stale {
		if _, err := s.ReadIndex(ctx); err != nil {
			return nil, err
		}
	}
	if opts.MinRevision > 0 {
		if err := s.waitRevision(ctx, opts.MinRevision); err != nil {
			return nil, err
		}
	}
	return s.fsm.currentView(), nil
}

// Get returns the value of key and the revision it was read at.
func (s *Store) Get(ctx context.Context, key string, opts ReadOptions) (kv KeyValue, found bool, rev uint64, err error) {
	v, err := s.view(ctx, opts)
	if err != nil {
		return KeyValue{}, false, 0, err
	}
	kv, found, err = v.Get(key, 0)
	return kv, found, v.Revision(), mapReadError(err)
}

// List returns the keys under prefix, in key order, a page at a time.
func (s *Store) List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	var v *mvcc.View
	var err error
	if opts.Revision > 0 {
		// The state at an exact revision is settled once this member has applied it.
		wctx, cancel := s.requestContext(ctx)
		err = s.waitRevision(wctx, opts.Revision)
		cancel()
		v = s.fsm.currentView()
	} else {
		v, err = s.view(ctx, opts.ReadOptions)
	}
	if err != nil {
		return ListResult{}, err
	}
	rev := opts.Revision
	if rev == 0 {
		rev = v.Revision()
	}
	start := prefix
	if opts.After != "" {
		if opts.After < prefix {
			return ListResult{}, fmt.Errorf("%w: continue key %q is outside prefix %q", ErrInvalidRequest, opts.After, prefix)
		}
		start = opts.After + "\x00"
	}
	res := ListResult{Revision: rev}
	err = v.Range(start, mvcc.PrefixEnd(prefix), rev, func(kv KeyValue) bool {
		if opts.Limit > 0 && len(res.KVs) == opts.Limit {
			res.More = true
			return false
		}
		res.KVs = append(res.KVs, kv)
		return true
	})
	return res, mapReadError(err)
}

// Count returns the number of keys under prefix and the revision it counted at.
func (s *Store) Count(ctx context.Context, prefix string, opts ReadOptions) (int, uint64, error) {
	v, err := s.view(ctx, opts)
	if err != nil {
		return 0, 0, err
	}
	return v.Count(prefix, mvcc.PrefixEnd(prefix)), v.Revision(), nil
}

// EventType says what an Event did.
type EventType = watch.EventType

// Event types.
const (
	EventPut    = watch.Put
	EventDelete = watch.Delete
)

// Event is one change to one key; see watch.Event.
type Event = watch.Event

// WatchResponse is a batch of events or a progress notification; see watch.Response.
type WatchResponse = watch.Response

// Watcher delivers the events under one prefix. One goroutine at a time may use it.
type Watcher struct {
	w *watch.Watcher
}

// Watch returns a watcher of the keys under prefix for every event after revision from, served
// from this member's own history. from 0 means "from now". A revision older than the retained
// history gives ErrCompacted; a revision this member has not reached yet waits.
func (s *Store) Watch(prefix string, from uint64) (*Watcher, error) {
	w, err := s.fsm.hub.Watch(prefix, from)
	if err != nil {
		return nil, mapReadError(err)
	}
	return &Watcher{w: w}, nil
}

// Next blocks until events arrive or, when progressAfter is positive, until that long passes
// without any, returning a progress notification. Errors: ctx's, ErrWatchLagged,
// ErrWatchReset, ErrStopped.
func (w *Watcher) Next(ctx context.Context, progressAfter time.Duration) (WatchResponse, error) {
	r, err := w.w.Next(ctx, progressAfter)
	return r, mapReadError(err)
}

// Progress returns the revision up to which the watcher has delivered every event (0 while the
// store has not reached the watch's start).
func (w *Watcher) Progress() (uint64, error) {
	rev, err := w.w.Progress()
	return rev, mapReadError(err)
}

// Close releases the watcher.
func (w *Watcher) Close() { w.w.Close() }
