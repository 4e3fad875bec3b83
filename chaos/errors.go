package chaos

import "errors"

// Errors of the package.
var (
	// ErrInvalidConfig wraps every configuration problem Validate finds.
	ErrInvalidConfig = errors.New("chaos: invalid configuration")
	// ErrCluster is returned when the cluster could not be started or brought back to health
	// for the final checks: the run could not judge the invariants.
	ErrCluster = errors.New("chaos: cluster failure")
)
