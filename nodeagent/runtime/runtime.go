package runtime

import (
	"context"
	"io"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// Runtime runs pod sandboxes and containers on one node. It is what the pod workers, the kubelet
// API server and the agent's recovery use. Containerd implements it for real nodes and
// runtimetest.Fake for tests and hollow nodes.
//
// Every method is safe for concurrent use. Methods that take a container ID return an error
// matching ErrNotFound for an unknown ID. Slices and pointers returned belong to the caller.
type Runtime interface {
	// Version returns the runtime's name and version; an error matching ErrUnavailable means the
	// runtime does not answer (the node's "runtime down" condition).
	Version(ctx context.Context) (name, version string, err error)

	// RunSandbox sets up the pod's sandbox: a network namespace attached to the pod network by CNI
	// (with cfg.PortMappings as host ports), recorded in the state directory so that it survives
	// agent restarts. It is idempotent per pod UID: an existing ready sandbox is returned as is,
	// and one whose namespace vanished (host reboot) is torn down and set up again, usually with a
	// new IP address. A host port that another sandbox maps or a host process has bound gives
	// ErrHostPortInUse.
	RunSandbox(ctx context.Context, cfg SandboxConfig) (*Sandbox, error)
	// StopSandbox kills the pod's remaining containers at once (without a grace period: stop them
	// with StopContainer first), detaches the pod from the network (also when its namespace is
	// already gone), removes the namespace, the pod cgroup and the state. The containers' records
	// and logs stay until RemoveContainer. Stopping an unknown pod is not an error.
	StopSandbox(ctx context.Context, podUID string) error
	// ListSandboxes returns every recorded sandbox.
	ListSandboxes(ctx context.Context) ([]*Sandbox, error)

	// EnsureImage makes image available and unpacked according to policy and returns its
	// reference. Errors match ErrImagePull, ErrImageNeverPull or ErrInvalidImageName; auth holds
	// the credentials of the pod's image pull secrets.
	EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy, auth []RegistryAuth) (ImageRef, error)
	// ImportImage imports an OCI image tarball (or docker save output) and returns the names of
	// the images it contained, unpacked and ready for CreateContainer.
	ImportImage(ctx context.Context, r io.Reader) ([]string, error)

	// CreateContainer creates (but does not start) attempt cfg.Attempt of container cfg.Name in sb,
	// with a fresh root filesystem, and returns its ID, which is ContainerID(sb.UID, cfg.Name,
	// cfg.Attempt). An existing attempt gives ErrAlreadyExists.
	CreateContainer(ctx context.Context, sb *Sandbox, cfg ContainerConfig) (string, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the image's stop signal (SIGTERM by default) to the container's main
	// process, waits up to grace for it to exit, then kills every process of the container. It
	// returns once the container has exited; stopping a container that is not running is a no-op.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer kills the container if it still runs, then deletes it, its root filesystem
	// and its log file. Removing an unknown container is not an error.
	RemoveContainer(ctx context.Context, id string) error
	// ContainerStatus returns the container's current status.
	ContainerStatus(ctx context.Context, id string) (ContainerStatus, error)
	// ListContainers returns the status of every container that matches filter, sorted by pod UID,
	// name and attempt. After an agent restart it is how the agent finds the containers it started
	// before: running ones are adopted as they are.
	ListContainers(ctx context.Context, filter ContainerFilter) ([]ContainerStatus, error)
	// Events returns the runtime's one event channel. Events are hints: they may be dropped when the
	// consumer is slow (an EventResync follows) or missed while the agent was down, so consumers
	// also reconcile periodically. The channel is closed when the runtime is closed.
	Events() <-chan Event

	// Exec runs cmd in the running container id and returns its exit code once it has exited and its
	// output has been copied. Cancelling ctx kills the process.
	Exec(ctx context.Context, id string, cmd []string, streams Streams) (exitCode int, err error)
	// Attach connects streams to the running container id's main process: output written from now
	// on, and stdin when the container was created with Stdin. It returns when the container's
	// output ends or ctx ends.
	Attach(ctx context.Context, id string, streams Streams) error
	// PortForward connects conn to 127.0.0.1:port inside the pod's network namespace and copies
	// both ways until either side closes; it closes conn before returning.
	PortForward(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error
	// Logs writes the container's log to w (stdout and stderr interleaved) as opts selects. With
	// Follow it returns when the container's output ends or ctx ends.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
}

// SandboxConfig describes the pod a sandbox is for.
type SandboxConfig struct {
	// UID is the pod's UID; it identifies the sandbox.
	UID string
	// Name and Namespace are the pod's name and namespace.
	Name, Namespace string
	// PortMappings are the pod's host ports.
	PortMappings []PortMapping
}

// PortMapping maps a host port to a container port of the pod.
type PortMapping struct {
	// ContainerPort is the port inside the pod.
	ContainerPort int32
	// HostPort is the port on the node.
	HostPort int32
	// Protocol is TCP (when empty), UDP or SCTP.
	Protocol corev1.Protocol
	// HostIP restricts the mapping to one host address when set.
	HostIP string
}

// SandboxState is the state of a recorded sandbox.
type SandboxState string

const (
	// SandboxReady means the sandbox's network namespace exists.
	SandboxReady SandboxState = "Ready"
	// SandboxNotReady means the namespace is gone (host reboot) or set-up did not finish;
	// RunSandbox sets it up again.
	SandboxNotReady SandboxState = "NotReady"
)

// Sandbox is a pod's network namespace and address.
type Sandbox struct {
	// UID, Name and Namespace identify the pod.
	UID, Name, Namespace string
	// NetNSPath is the bind-mounted network namespace that the pod's containers join.
	NetNSPath string
	// IPs are the pod's addresses, primary first.
	IPs []string
	// PortMappings are the host ports set up for the pod.
	PortMappings []PortMapping
	// CreatedAt is when the sandbox was set up.
	CreatedAt time.Time
	// State tells whether the sandbox is usable.
	State SandboxState
}

// ImageRef identifies an image in the runtime's store.
type ImageRef struct {
	// Name is the normalised reference, e.g. docker.io/library/busybox:1.36.
	Name string
	// Digest is the digest of the image's manifest or index, e.g. sha256:….
	Digest string
	// ID is the digest of the image's configuration, which Kubernetes shows as the image ID.
	ID string
}

// RepoDigest returns the reference by digest that the kubelet reports as a container's imageID,
// e.g. docker.io/library/busybox@sha256:…; it falls back to ID when Name or Digest is unknown.
func (r ImageRef) RepoDigest() string {
	named, err := reference.ParseNormalizedNamed(r.Name)
	if err != nil || r.Digest == "" {
		return r.ID
	}
	return reference.TrimNamed(named).String() + "@" + r.Digest
}

// RegistryAuth holds credentials for one registry host.
type RegistryAuth struct {
	// Host is the registry host, e.g. registry.example.com:5000 or docker.io.
	Host string
	// Username and Password are basic credentials.
	Username, Password string
	// IdentityToken is a refresh token, used instead of Password when set.
	IdentityToken string
}

// ContainerConfig is a container as the pod worker has resolved it.
type ContainerConfig struct {
	// Name is the container's name in the pod spec.
	Name string
	// Attempt counts the container's starts in this pod, from 0.
	Attempt uint32
	// Image is the reference EnsureImage returned.
	Image ImageRef
	// Command replaces the image's entrypoint when set; Args replaces its command when set.
	Command, Args []string
	// Env holds resolved variables, added to the image's environment in order.
	Env []EnvVar
	// WorkingDir replaces the image's working directory when set.
	WorkingDir string
	// Mounts are bind mounts from the host (volumes, /etc/hosts, /etc/resolv.conf, ...).
	Mounts []Mount
	// Hostname is the container's host name, normally the pod's name.
	Hostname string
	// Resources are the container's limits.
	Resources Resources
	// RunAsUser and RunAsGroup override the image's user and group when set.
	RunAsUser, RunAsGroup *int64
	// TTY allocates a terminal for the main process.
	TTY bool
	// Stdin keeps the main process's stdin open for Attach; StdinOnce closes it after the first
	// attach session ends.
	Stdin, StdinOnce bool
	// LogPath is the absolute path of the container's CRI-format log file (see LogPath).
	LogPath string
	// Labels are kept with the container and returned in its status; keys must not start with
	// "capstan.runtime/".
	Labels map[string]string
}

// EnvVar is one environment variable.
type EnvVar struct {
	// Name and Value are the variable's name and value.
	Name, Value string
}

// Mount is a bind mount of a host path into the container.
type Mount struct {
	// HostPath is the absolute source path on the host.
	HostPath string
	// ContainerPath is the absolute target path inside the container.
	ContainerPath string
	// ReadOnly mounts the source read-only.
	ReadOnly bool
}

// Resources are a container's CPU and memory settings; zero means not set.
type Resources struct {
	// CPURequestMillis sets the CPU shares (1000m = 1024 shares).
	CPURequestMillis int64
	// CPULimitMillis sets the CFS quota per 100 ms period (1000m = one CPU).
	CPULimitMillis int64
	// MemoryLimitBytes sets the memory limit; the kernel's OOM killer enforces it.
	MemoryLimitBytes int64
}

// ContainerState is the state of a container.
type ContainerState string

const (
	// ContainerCreated means created but not started.
	ContainerCreated ContainerState = "Created"
	// ContainerRunning means the main process runs.
	ContainerRunning ContainerState = "Running"
	// ContainerExited means the main process has exited.
	ContainerExited ContainerState = "Exited"
	// ContainerUnknown means the runtime cannot tell.
	ContainerUnknown ContainerState = "Unknown"
)

// Reasons set in ContainerStatus.Reason of exited containers, as the kubelet reports them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown is used when the container's task vanished without an exit status (for
	// example after a host reboot).
	ReasonUnknown = "Unknown"
)

// ContainerStatus is what the runtime knows about one container.
type ContainerStatus struct {
	// ID is the runtime's container ID.
	ID string
	// PodUID, PodName and PodNamespace identify the pod.
	PodUID, PodName, PodNamespace string
	// Name is the container's name in the pod spec.
	Name string
	// Attempt is the start attempt this container is.
	Attempt uint32
	// State is the container's state.
	State ContainerState
	// PID is the host PID of the main process while running.
	PID uint32
	// CreatedAt, StartedAt and FinishedAt are zero when not reached.
	CreatedAt, StartedAt, FinishedAt time.Time
	// ExitCode is the main process's exit code once exited (128+signal when killed by a signal).
	ExitCode int32
	// OOMKilled is true when the kernel's OOM killer killed a process of the container, whether or
	// not that process was the main one.
	OOMKilled bool
	// Reason is one of the Reason constants once exited.
	Reason string
	// Image is the image the container runs.
	Image ImageRef
	// LogPath is the container's log file.
	LogPath string
	// Labels are the labels given in ContainerConfig.
	Labels map[string]string
}

// ContainerFilter selects containers; the zero value selects all of them.
type ContainerFilter struct {
	// PodUID selects one pod's containers when set.
	PodUID string
}

// EventType is the kind of an Event.
type EventType string

const (
	// EventContainerExited reports that a container's main process exited; its status is final.
	EventContainerExited EventType = "ContainerExited"
	// EventContainerOOM reports an OOM kill in a container, usually shortly before it exits.
	EventContainerOOM EventType = "ContainerOOM"
	// EventResync reports that events may have been lost: consumers should reconcile everything.
	EventResync EventType = "Resync"
)

// Event is a hint that a container's state changed.
type Event struct {
	// Type is the kind of event.
	Type EventType
	// ContainerID and PodUID identify the container; empty for EventResync.
	ContainerID, PodUID string
	// ExitCode is set for EventContainerExited.
	ExitCode int32
	// Time is when it happened.
	Time time.Time
}

// Streams connects a process to the caller. Nil members are not connected.
type Streams struct {
	// Stdin feeds the process's standard input; EOF closes it.
	Stdin io.Reader
	// Stdout and Stderr receive the process's output. With TTY, Stderr is unused.
	Stdout, Stderr io.Writer
	// TTY runs the exec'd process with a terminal; for Attach it must match the container's TTY.
	TTY bool
	// Resize delivers terminal size changes when TTY is set.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	// Width and Height are in columns and rows.
	Width, Height uint16
}

// LogOptions selects the log lines Logs writes, as in PodLogOptions.
type LogOptions struct {
	// Follow keeps streaming new lines until the container's output ends.
	Follow bool
	// TailLines limits output to the last lines when set.
	TailLines *int64
	// Since skips lines logged before it when set.
	Since time.Time
	// Timestamps prefixes every line with its RFC 3339 timestamp.
	Timestamps bool
	// LimitBytes stops after that many bytes when positive.
	LimitBytes int64
}
