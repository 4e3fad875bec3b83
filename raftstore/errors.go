package raftstore

import (
	"errors"

	"github.com/capstan-io/capstan/raftstore/mvcc"
	"github.com/capstan-io/capstan/raftstore/watch"
)

// Errors returned by the Store. Callers test them with errors.Is; the returned errors wrap
// them with details.
var (
	// ErrCompacted is returned by reads and watches at a revision older than the retained history.
	ErrCompacted = errors.New("raftstore: required revision has been compacted")
	// ErrFutureRevision is returned by a read at an exact revision the store has not reached
	// before the context ended.
	ErrFutureRevision = errors.New("raftstore: required revision is a future revision")
	// ErrNoLeader is returned when no leader could be found before the context ended. The
	// request was not applied.
	ErrNoLeader = errors.New("raftstore: no leader")
	// ErrUnknownOutcome is returned when a write may or may not have been applied: the leader
	// was lost while the write was in flight and the retries that followed did not settle it
	// before the context ended. It never means "not applied".
	ErrUnknownOutcome = errors.New("raftstore: outcome of the write is unknown")
	// ErrValueTooLarge is returned when a value exceeds Config.MaxValueSize. Nothing is written.
	ErrValueTooLarge = errors.New("raftstore: value too large")
	// ErrRequestTooLarge is returned when a transaction exceeds Config.MaxTxnOps or
	// Config.MaxTxnBytes. Nothing is written.
	ErrRequestTooLarge = errors.New("raftstore: request too large")
	// ErrQuotaExceeded is returned when a write would grow the store beyond Config.QuotaBytes.
	// Nothing is written; deletes and writes that shrink the store still succeed.
	ErrQuotaExceeded = errors.New("raftstore: database space exceeded")
	// ErrInvalidRequest is returned for malformed requests: an empty key, a key used twice in
	// one transaction, an unknown compare or operation. Nothing is written.
	ErrInvalidRequest = errors.New("raftstore: invalid request")
	// ErrWatchLagged is returned by Watcher.Next when the watcher fell too far behind; it must
	// re-list and start a new watch.
	ErrWatchLagged = errors.New("raftstore: watcher fell behind")
	// ErrWatchReset is returned by Watcher.Next when the store was restored from a snapshot
	// after the watch started; the watcher must re-list.
	ErrWatchReset = errors.New("raftstore: store restored from a snapshot")
	// ErrStopped is returned after Close.
	ErrStopped = errors.New("raftstore: store stopped")
	// ErrHalted is returned when the state machine stopped applying entries because it met a
	// command it does not understand (a newer binary wrote it). The member must be upgraded.
	ErrHalted = errors.New("raftstore: state machine halted")
	// ErrNotVoter is returned by leadership operations aimed at a member that cannot lead.
	ErrNotVoter = errors.New("raftstore: member is not a voter")
	// ErrMemberNotFound is returned by membership operations on an ID that is not a member.
	ErrMemberNotFound = errors.New("raftstore: member not found")
	// ErrMemberExists is returned when adding an ID that is already a member with another address.
	ErrMemberExists = errors.New("raftstore: member already exists")
	// ErrMemberRemoved is returned when adding an ID that was removed before: IDs are never reused.
	ErrMemberRemoved = errors.New("raftstore: member ID was removed and cannot be reused")
	// ErrQuorumAtRisk is returned by membership changes that would leave fewer healthy voters
	// than a quorum needs; pass force to override.
	ErrQuorumAtRisk = errors.New("raftstore: change would break quorum")
	// ErrNotCaughtUp is returned when promoting a non-voter whose log trails the leader.
	ErrNotCaughtUp = errors.New("raftstore: member has not caught up with the leader")
	// ErrClusterHealthy is returned by Recover when the member can still reach a quorum.
	ErrClusterHealthy = errors.New("raftstore: cluster is healthy; refusing to recover")
	// ErrBadSnapshot is returned when a snapshot file is truncated, corrupt or of an unknown format.
	ErrBadSnapshot = errors.New("raftstore: bad snapshot")
)

// mapReadError turns the errors of the mvcc and watch packages into the store's.
func mapReadError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mvcc.ErrCompacted), errors.Is(err, watch.ErrCompacted):
		return wrapAs(ErrCompacted, err)
	case errors.Is(err, mvcc.ErrFutureRevision):
		return wrapAs(ErrFutureRevision, err)
	case errors.Is(err, watch.ErrLagged):
		return wrapAs(ErrWatchLagged, err)
	case errors.Is(err, watch.ErrReset):
		return wrapAs(ErrWatchReset, err)
	case errors.Is(err, watch.ErrClosed):
		return wrapAs(ErrStopped, err)
	}
	return err
}

// wrapAs returns an error that is sentinel for errors.Is and reads as err.
func wrapAs(sentinel, err error) error { return &wrapped{sentinel: sentinel, err: err} }

type wrapped struct{ sentinel, err error }

func (w *wrapped) Error() string        { return w.err.Error() }
func (w *wrapped) Is(target error) bool { return target == w.sentinel }
func (w *wrapped) Unwrap() error        { return w.err }
