package raftstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/capstan-io/capstan/raftstore/mvcc"
	"github.com/capstan-io/capstan/raftstore/watch"
)

// KeyValue is the state of one key at a revision.
type KeyValue = mvcc.KeyValue

// applyResult is what the state machine returns for a command: the Raft future's Response on
// the leader, and the payload of a forwarded write's reply.
type applyResult struct {
	res TxnResult
	err error
}

// fsm is the replicated state machine. hashicorp/raft calls ApplyBatch, Snapshot and Restore
// from its single FSM goroutine; that goroutine is the only writer of tree and dedup. Readers
// use the View published after every batch.
type fsm struct {
	log     *slog.Logger
	metrics *metrics
	hub     *watch.Hub
	// onHalt is called once, on its own goroutine, when the state machine halts.
	onHalt func(error)

	tree  *mvcc.Tree
	dedup *dedupTable
	// halted is set when an entry this binary cannot apply was met; nothing is applied after it.
	halted error

	view    atomic.Pointer[mvcc.View]
	pubMu   sync.Mutex    // protects pubCh
	pubCh   chan struct{} // closed and replaced after each publish
	applied atomic.Uint64 // revision of the published view
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(log *slog.Logger, m *metrics, hubCfg watch.Config, onHalt func(error)) (*fsm, error) {
	hub, err := watch.NewHub(hubCfg, 0)
	if err != nil {
		return nil, err
	}
	f := &fsm{log: log, metrics: m, hub: hub, onHalt: onHalt, tree: mvcc.NewTree(), dedup: newDedupTable(), pubCh: make(chan struct{})}
	f.publish()
	return f, nil
}

// currentView returns the latest published view.
func (f *fsm) currentView() *mvcc.View { return f.view.Load() }

// revision returns the revision of the latest published view.
func (f *fsm) revision() uint64 { return f.applied.Load() }

// published returns a channel closed at the next publish.
func (f *fsm) published() <-chan struct{} {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	return f.pubCh
}

// publish makes the tree's current state visible to readers.
func (f *fsm) publish() {
	v := f.tree.View()
	f.view.Store(v)
	f.applied.Store(v.Revision())
	f.pubMu.Lock()
	close(f.pubCh)
	f.pubCh = make(chan struct{})
	f.pubMu.Unlock()
}

// Apply applies one entry.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in order, publishes the new state, then hands the
// events to the watch hub. It never blocks on readers or watchers.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	results := make([]any, len(logs))
	var batches []watch.Batch
	for i, l := range logs {
		if f.halted != nil {
			results[i] = &applyResult{err: f.halted}
			continue
		}
		var events []watch.Event
		if l.Type == raft.LogCommand {
			results[i], events = f.applyCommand(l)
		}
		if f.halted == nil {
			f.tree.SetRevision(l.Index)
		}
		if len(events) > 0 {
			batches = append(batches, watch.Batch{Revision: l.Index, Events: events})
		}
	}
	f.publish()
	f.hub.AppendBatch(batches, f.tree.Revision(), time.Now())
	f.metrics.applyDuration.Observe(time.Since(start).Seconds())
	return results
}

// applyCommand decodes and applies one command entry.
func (f *fsm) applyCommand(l *raft.Log) (any, []watch.Event) {
	cmd, err := decodeCommand(l.Data)
	if err != nil {
		var unknown *unknownCommandError
		switch {
		case errors.As(err, &unknown) && unknown.ignorable():
			f.log.Warn("skipping a command this version does not know", "index", l.Index, "error", err)
			return &applyResult{}, nil
		case errors.As(err, &unknown):
			f.halted = fmt.Errorf("%w: entry %d: %v; upgrade this member", ErrHalted, l.Index, err)
			f.log.Error("halting the state machine", "index", l.Index, "error", err)
			go f.onHalt(f.halted)
			return &applyResult{err: f.halted}, nil
		default:
			// Every member holds the same bytes, so every member skips this entry alike.
			f.metrics.invalidEntries.Inc()
			f.log.Error("skipping an undecodable entry", "index", l.Index, "error", err)
			return &applyResult{err: fmt.Errorf("%w: entry %d: %v", ErrInvalidRequest, l.Index, err)}, nil
		}
	}
	switch c := cmd.(type) {
	case *txnCommand:
		return f.applyTxn(l.Index, c)
	case *compactCommand:
		f.tree.Compact(c.revision)
		f.hub.Compact(f.tree.CompactRevision())
		return &applyResult{res: TxnResult{Revision: l.Index, Succeeded: true, FailedCompare: -1}}, nil
	}
	panic(fmt.Sprintf("raftstore: decoded command of unexpected type %T", cmd))
}

// applyTxn applies a transaction at revision rev.
func (f *fsm) applyTxn(rev uint64, c *txnCommand) (*applyResult, []watch.Event) {
	if r, ok := f.dedup.get(c.id); ok {
		return r, nil
	}
	r, events := f.execTxn(rev, c)
	f.dedup.put(c.id, c.proposed, r)
	return r, events
}

// execTxn checks the compares and applies the ops. Every check depends only on the command
// and the state, so every member reaches the same result.
func (f *fsm) execTxn(rev uint64, c *txnCommand) (*applyResult, []watch.Event) {
	t := &c.txn
	if err := validateTxn(t, unlimited); err != nil {
		return &applyResult{err: err}, nil
	}
	res := TxnResult{Revision: rev, FailedCompare: -1}
	for i, cmp := range t.Compares {
		kv, ok := f.tree.Get(cmp.Key)
		if !compareHolds(cmp, kv, ok) {
			res.FailedCompare = i
			res.FailedKV, res.FailedKVExists, res.HasFailedKV = kv, ok, true
			return &applyResult{res: res}, nil
		}
	}
	// Guards see the state before the transaction.
	skip := make([]bool, len(t.Ops))
	for i, op := range t.Ops {
		for _, g := range op.If {
			if kv, ok := f.tree.Get(g.Key); !compareHolds(g, kv, ok) {
				skip[i] = true
				break
			}
		}
	}
	if c.quota > 0 {
		var delta int64
		for i, op := range t.Ops {
			if skip[i] {
				continue
			}
			old, ok := f.tree.Get(op.Key)
			switch {
			case op.Type == OpPut && ok:
				delta += int64(len(op.Value) - len(old.Value))
			case op.Type == OpPut:
				delta += int64(len(op.Key) + len(op.Value))
			case ok:
				delta -= int64(len(op.Key) + len(old.Value))
			}
		}
		if size := f.tree.Size(); delta > 0 && size+delta > c.quota {
			return &applyResult{err: fmt.Errorf("%w: the store holds %d bytes, the write adds %d and the quota is %d",
				ErrQuotaExceeded, size, delta, c.quota)}, nil
		}
	}
	res.Succeeded = true
	res.Ops = make([]OpResult, len(t.Ops))
	events := make([]watch.Event, 0, len(t.Ops))
	for i, op := range t.Ops {
		if skip[i] {
			res.Ops[i] = OpResult{Skipped: true}
			continue
		}
		switch op.Type {
		case OpPut:
			prev, existed, kv := f.tree.Put(op.Key, op.Value, rev)
			res.Ops[i] = OpResult{Existed: existed, CreateRevision: kv.CreateRevision, Version: kv.Version}
			events = append(events, watch.Event{Type: watch.Put, KV: kv, Prev: prev, HasPrev: existed})
		case OpDelete:
			prev, existed := f.tree.Delete(op.Key, rev)
			res.Ops[i] = OpResult{Existed: existed}
			if existed {
				events = append(events, watch.Event{Type: watch.Delete, KV: KeyValue{Key: op.Key, ModRevision: rev}, Prev: prev, HasPrev: true})
			}
		}
	}
	return &applyResult{res: res}, events
}

func compareHolds(c Compare, kv KeyValue, exists bool) bool {
	switch c.Target {
	case CompareExists:
		return exists
	case CompareAbsent:
		return !exists
	case CompareModRevision:
		return exists && kv.ModRevision == c.Value
	case CompareVersion:
		return exists && kv.Version == c.Value
	}
	return false
}

// Snapshot captures the current state for Persist. It is O(1) for the key index; the
// deduplication table is copied.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if f.halted != nil {
		return nil, f.halted
	}
	return &fsmSnapshot{view: f.tree.View(), dedup: f.dedup.entries(), metrics: f.metrics}, nil
}

// Restore replaces the state with a snapshot's. The new state is built beside the old one and
// swapped in only when the whole snapshot has been read and its checksum verified.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tree, dedup, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	if tree.Revision() < f.tree.Revision() {
		return fmt.Errorf("%w: snapshot revision %d is below the current revision %d", ErrBadSnapshot, tree.Revision(), f.tree.Revision())
	}
	f.tree, f.dedup = tree, dedup
	f.metrics.snapshotRestores.Inc()
	f.publish()
	f.hub.Reset(tree.Revision())
	f.log.Info("restored state from a snapshot", "revision", tree.Revision(), "keys", tree.Count())
	return nil
}

// fsmSnapshot is a point-in-time state being persisted by Raft.
type fsmSnapshot struct {
	view    *mvcc.View
	dedup   []dedupRecord
	metrics *metrics
}

// Persist streams the snapshot to sink without copying the state.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	n, err := writeSnapshot(sink, s.view, s.dedup)
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	s.metrics.snapshotBytes.Set(float64(n))
	return sink.Close()
}

// Release is a no-op: the view is garbage collected.
func (s *fsmSnapshot) Release() {}

// Deduplication: a write retried after an unknown outcome carries the same request ID, and the
// state machine answers a repeated ID from this table instead of applying it twice. The table's
// bounds are constants, not configuration, because every member must evict identically.
const (
	dedupMaxEntries = 200_000
	dedupTTL        = 2 * time.Minute
)

type dedupRecord struct {
	id       requestID
	proposed int64
	result   *applyResult
}

// dedupTable remembers recent request IDs and their results. Only the FSM goroutine uses it.
type dedupTable struct {
	byID  map[requestID]*applyResult
	queue []dedupRecord // in apply order
	head  int           // index of the oldest live record in queue
	// newest is the latest proposer time seen; records older than newest-dedupTTL expire.
	newest int64
}

func newDedupTable() *dedupTable { return &dedupTable{byID: make(map[requestID]*applyResult)} }

func (d *dedupTable) get(id requestID) (*applyResult, bool) {
	if id == (requestID{}) {
		return nil, false
	}
	r, ok := d.byID[id]
	return r, ok
}

func (d *dedupTable) put(id requestID, proposed int64, r *applyResult) {
	if id == (requestID{}) {
		return
	}
	stored := *r
	stored.res.FailedKV, stored.res.HasFailedKV = KeyValue{}, false // keep the table small
	d.byID[id] = &stored
	d.queue = append(d.queue, dedupRecord{id: id, proposed: proposed, result: &stored})
	if proposed > d.newest {
		d.newest = proposed
	}
	for d.head < len(d.queue) {
		oldest := d.queue[d.head]
		if len(d.queue)-d.head <= dedupMaxEntries && oldest.proposed >= d.newest-dedupTTL.Milliseconds() {
			break
		}
		delete(d.byID, oldest.id)
		d.queue[d.head] = dedupRecord{}
		d.head++
	}
	if d.head > 1024 && d.head > len(d.queue)/2 {
		d.queue = append([]dedupRecord(nil), d.queue[d.head:]...)
		d.head = 0
	}
}

// entries returns a copy of the live records, oldest first.
func (d *dedupTable) entries() []dedupRecord {
	return append([]dedupRecord(nil), d.queue[d.head:]...)
}
