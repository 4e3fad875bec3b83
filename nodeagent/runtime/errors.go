package runtime

import "errors"

var (
	// ErrNotFound is returned for an unknown container or sandbox.
	ErrNotFound = errors.New("runtime: not found")
	// ErrAlreadyExists is returned by CreateContainer for an attempt that already exists.
	ErrAlreadyExists = errors.New("runtime: already exists")
	// ErrNotRunning is returned by Exec and Attach when the container's main process does not run.
	ErrNotRunning = errors.New("runtime: container not running")
	// ErrSandboxNotReady is returned by CreateContainer when the sandbox's network namespace is gone.
	ErrSandboxNotReady = errors.New("runtime: sandbox not ready")
	// ErrHostPortInUse is returned by RunSandbox when a host port is taken by another sandbox or
	// by a process on the host: portmap would otherwise redirect the host's own connections to that
	// port into the pod (RUNTIME.md pitfall 13).
	ErrHostPortInUse = errors.New("runtime: host port in use")
	// ErrImagePull is returned by EnsureImage when the image cannot be pulled; the kubelet reports
	// it as the ErrImagePull reason.
	ErrImagePull = errors.New("runtime: image pull failed")
	// ErrImageNeverPull is returned by EnsureImage when the image is missing and the pull policy is
	// Never; the kubelet reports it as the ErrImageNeverPull reason.
	ErrImageNeverPull = errors.New("runtime: image not present and pull policy is Never")
	// ErrInvalidImageName is returned by EnsureImage for a reference that does not parse; the
	// kubelet reports it as the InvalidImageName reason.
	ErrInvalidImageName = errors.New("runtime: invalid image name")
	// ErrUnavailable is returned when containerd does not answer.
	ErrUnavailable = errors.New("runtime: containerd unavailable")
	// ErrStateLocked is returned by New when another runtime uses the same state directory.
	ErrStateLocked = errors.New("runtime: state directory in use")
	// ErrHostNotReady is returned by CheckHost when the host lacks something the runtime needs.
	ErrHostNotReady = errors.New("runtime: host not ready")
)
