package raftstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/capstan-io/capstan/raftstore/internal/rpc"
)

// Txn applies t atomically: if all compares hold, all ops are applied at one revision. Any
// member accepts it; followers forward it to the leader. It returns ErrUnknownOutcome only when
// the write may have been applied and retries could not settle it before ctx ended; any other
// error means it was not applied.
func (s *Store) Txn(ctx context.Context, t Txn) (TxnResult, error) {
	start := time.Now()
	defer func() { s.metrics.proposeDuration.Observe(time.Since(start).Seconds()) }()
	if err := validateTxn(&t, txnLimits{maxOps: s.cfg.MaxTxnOps, maxValueSize: s.cfg.MaxValueSize}); err != nil {
		return TxnResult{}, err
	}
	cmd := encodeTxn(&txnCommand{id: newRequestID(), proposed: time.Now().UnixMilli(), quota: s.cfg.QuotaBytes, txn: t})
	if len(cmd) > s.cfg.MaxTxnBytes {
		return TxnResult{}, fmt.Errorf("%w: transaction encodes to %d bytes; the limit is %d", ErrRequestTooLarge, len(cmd), s.cfg.MaxTxnBytes)
	}
	r, err := s.propose(ctx, cmd)
	if err != nil {
		return TxnResult{}, err
	}
	return r.res, r.err
}

// Compact drops history below rev on every member: reads and watches from older revisions fail
// with ErrCompacted afterwards.
func (s *Store) Compact(ctx context.Context, rev uint64) error {
	r, err := s.propose(ctx, encodeCompact(&compactCommand{revision: rev}))
	if err != nil {
		return err
	}
	return r.err
}

// propose gets cmd applied by the current leader, retrying across leader changes until ctx
// ends. Retrying is safe because the state machine deduplicates by request ID.
func (s *Store) propose(ctx context.Context, cmd []byte) (*applyResult, error) {
	ctx, cancel := s.requestContext(ctx)
	defer cancel()
	unknown := false
	var lastErr error
	for attempt := 0; ; attempt++ {
		changed := s.leaderChanged()
		r, err := s.proposeOnce(ctx, cmd)
		if err == nil {
			return r, nil
		}
		switch {
		case errors.Is(err, ErrUnknownOutcome):
			unknown = true
		case errors.Is(err, ErrNoLeader), errors.Is(err, errNotLeader), errors.Is(err, errLeaderNotReady):
		default: // not retryable: the request itself failed
			if unknown {
				return nil, fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
			}
			return nil, err
		}
		lastErr = err
		if err := s.retryWait(ctx, changed, attempt); err != nil {
			switch {
			case unknown:
				return nil, fmt.Errorf("%w: the leader was lost while the write was in flight (%v)", ErrUnknownOutcome, lastErr)
			case errors.Is(err, ErrStopped), errors.Is(err, ErrHalted):
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v (last attempt: %v)", ErrNoLeader, err, lastErr)
		}
	}
}

// requestContext applies the default request timeout and the store's lifetime to ctx.
func (s *Store) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		stop := context.AfterFunc(s.ctx, cancel)
		return ctx, func() { stop(); cancel() }
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// retryWait waits for a leadership change or a short back-off before the next attempt.
func (s *Store) retryWait(ctx context.Context, changed <-chan struct{}, attempt int) error {
	backoff := time.Duration(1<<min(attempt, 6)) * 2 * time.Millisecond // 2ms .. 128ms
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.raftCtx.Done():
		return s.raftStopped()
	case <-changed:
		return nil
	case <-t.C:
		return nil
	}
}

// proposeOnce makes one attempt through the leader this member knows. Errors wrapping
// ErrUnknownOutcome mean the command may have been applied.
func (s *Store) proposeOnce(ctx context.Context, cmd []byte) (*applyResult, error) {
	if s.raft.State() == raft.Leader {
		return s.applyLocal(ctx, cmd)
	}
	_, addr := s.Leader()
	if addr == "" {
		return nil, ErrNoLeader
	}
	s.metrics.forwardedWrites.Inc()
	return s.forwardApply(ctx, addr, cmd)
}

// applyLocal proposes cmd on this member, which must be the leader.
func (s *Store) applyLocal(ctx context.Context, cmd []byte) (*applyResult, error) {
	if s.raft.State() != raft.Leader {
		return nil, errNotLeader
	}
	timeout := s.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return nil, ctx.Err()
	}
	f := s.raft.Apply(cmd, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }() // exits when the future resolves (see spawnRaftClient for the exception)
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v while waiting for the entry to commit", ErrUnknownOutcome, ctx.Err())
	case err := <-done:
		if err != nil {
			return nil, classifyApplyError(err)
		}
	}
	r, ok := f.Response().(*applyResult)
	if !ok {
		return nil, fmt.Errorf("raftstore: state machine returned %T", f.Response())
	}
	return r, nil
}

// classifyApplyError separates Raft errors that guarantee the entry was not appended from
// those that leave its fate open.
func classifyApplyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrEnqueueTimeout):
		return wrapAs(errNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, wrapAs(ErrStopped, err))
	default: // ErrLeadershipLost, ErrAbortedByRestore
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	}
}

// forwardApply sends cmd to the leader at addr.
func (s *Store) forwardApply(ctx context.Context, addr string, cmd []byte) (*applyResult, error) {
	timeout := time.Until(deadline(ctx, s.cfg.RequestTimeout))
	req := encodeApplyRequest(cmd, timeout)
	out, err := s.peers.call(ctx, addr, methodApply, req)
	if err != nil {
		return nil, classifyRPCError(err)
	}
	return decodeApplyReply(out)
}

// classifyRPCError tells a request the leader never saw from one whose fate is unknown.
func classifyRPCError(err error) error {
	var remote *rpc.RemoteError
	switch {
	case errors.Is(err, rpc.ErrNotSent):
		return wrapAs(errNotLeader, err)
	case errors.As(err, &remote):
		return fmt.Errorf("raftstore: leader failed the request: %w", err)
	default:
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	}
}

func deadline(ctx context.Context, fallback time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(fallback)
}
