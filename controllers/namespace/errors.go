package namespace

import "errors"

var (
	// ErrContentRemaining is wrapped by the error Sync returns while objects
	// remain in a terminating namespace: the namespace is not finalized yet
	// and its key must be retried. It is progress, not a failure.
	ErrContentRemaining = errors.New("namespace: content remaining")
)
