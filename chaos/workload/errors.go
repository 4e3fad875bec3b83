package workload

import "errors"

// ErrNoMaster is returned when no master is up to serve a request the workload must make.
var ErrNoMaster = errors.New("workload: no master is up")
