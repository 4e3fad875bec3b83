package daemonset

import "errors"

var (
	// ErrInvalidUpdateStrategy is returned when a DaemonSet's maxSurge or
	// maxUnavailable cannot be read as a number or percentage.
	ErrInvalidUpdateStrategy = errors.New("daemonset: invalid rolling update parameters")
)
