package fault

import "errors"

// Errors of the package.
var (
	// ErrUnsupported is returned (wrapped with the reason) by a fault this machine or run
	// cannot inject, such as one that needs root. The runner records the fault as skipped.
	ErrUnsupported = errors.New("fault: unsupported here")
	// ErrNoVictim is returned when there is no master the fault could hit (no follower
	// running, say).
	ErrNoVictim = errors.New("fault: no master to hit")
)
