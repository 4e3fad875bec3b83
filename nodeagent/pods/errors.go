package pods

import "errors"

var (
	// ErrUnsupportedVolume is reported (as a FailedMount event and in the logs) for a volume
	// whose type the node agent cannot set up, such as a persistentVolumeClaim.
	ErrUnsupportedVolume = errors.New("pods: unsupported volume type")
	// ErrHostPathType is reported when a hostPath volume's path does not match its type.
	ErrHostPathType = errors.New("pods: hostPath type check failed")
	// ErrConfigNotFound is reported when a configMap, secret or key that a container or volume
	// needs, and does not declare optional, does not exist.
	ErrConfigNotFound = errors.New("pods: configuration not found")
	// ErrInvalidEnv is reported when an environment variable's source cannot be resolved, for
	// example an unsupported fieldRef path.
	ErrInvalidEnv = errors.New("pods: invalid environment variable source")
)
