package raftstore

import (
	"errors"
	"fmt"
)

// errorCodes numbers the errors that cross the wire (forwarded writes, snapshots of the
// deduplication table). The list is append-only: a code's meaning never changes.
var errorCodes = []error{
	nil, ErrCompacted, ErrFutureRevision, ErrNoLeader, ErrUnknownOutcome, ErrValueTooLarge,
	ErrRequestTooLarge, ErrQuotaExceeded, ErrInvalidRequest, ErrWatchLagged, ErrWatchReset,
	ErrStopped, ErrHalted, ErrNotVoter, ErrMemberNotFound, ErrMemberExists, ErrMemberRemoved,
	ErrQuorumAtRisk, ErrNotCaughtUp, ErrClusterHealthy, ErrBadSnapshot,
	errNotLeader, errLeaderNotReady,
}

// Internal errors that travel between members but are never returned to callers as such.
var (
	// errNotLeader means the member asked to act as leader is not the leader: retry elsewhere.
	errNotLeader = errors.New("raftstore: not the leader")
	// errLeaderNotReady means the leader has not finished its term's barrier yet: retry.
	errLeaderNotReady = errors.New("raftstore: leader not ready")
)

// codeUnknown marks an error with no code; it decodes to a plain error with the message.
const codeUnknown = 255

func encodeError(err error) (uint8, string) {
	if err == nil {
		return 0, ""
	}
	for i, e := range errorCodes[1:] {
		if errors.Is(err, e) {
			return uint8(i + 1), err.Error()
		}
	}
	return codeUnknown, err.Error()
}

func decodeError(code uint8, msg string) error {
	switch {
	case code == 0:
		return nil
	case int(code) < len(errorCodes):
		return wrapAs(errorCodes[code], errors.New(msg))
	}
	return fmt.Errorf("raftstore: remote error: %s", msg)
}
