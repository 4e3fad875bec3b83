// Package runtime is the container runtime of Capstan's node agent: the part of a kubelet that
// would talk CRI, done with containerd's Go client (github.com/containerd/containerd v1.7, the v1
// module path) and CNI plugins through go-cni. Pod workers use the Runtime interface; Containerd
// implements it on real nodes and runtimetest.Fake in tests and hollow nodes.
//
// # Design
//
// A pod sandbox is a network namespace bind-mounted at <NetNSDir>/<pod UID>, attached to the pod
// network by the bridge, host-local, portmap and loopback plugins, and recorded in
// <StateDir>/sandboxes/<pod UID>.json (written before CNI ADD, so a crash mid-way can be undone).
// There is no pause container: containers join the namespace by path, and each has its own UTS,
// IPC and PID namespaces.
//
// Every start attempt of a container is a new containerd container with its own overlayfs
// snapshot (RUNTIME.md pitfall 15), ID ContainerID(podUID, name, attempt), labelled with the pod's
// UID, name and namespace, the container's name and attempt, its image and its log path. All of
// a pod's containers share one runc shim (the io.containerd.runc.v2.group spec annotation) and a
// cgroup parent <CgroupParent>/pod<uid>, removed by StopSandbox. Containerd runs them in its
// namespace Config.Namespace ("capstan", never "k8s.io").
//
// When a container's main process exits, its exit code, time and OOM kill (from the /tasks/oom
// event or the cgroup's oom_kill counter, so also when the OOM killer hit a child) are written to
// the containerd container's labels and its task is deleted, which frees the shim, the cgroup and
// the logger; the record, the root filesystem and the log stay until RemoveContainer, for status
// and `logs --previous`. This finalisation happens on the exit event, in StopContainer, and in
// ContainerStatus and ListContainers for exits missed while the agent was down.
//
// Logs are CRI-format files (the kubelet's format: "<time> <stream> <F|P> <text>"), one per
// attempt, at ContainerConfig.LogPath (see LogPath). The containerd shim writes them through
// cio.BinaryIO: it starts this very executable as a logger child, which the logger package's init
// function recognises before the agent's heavy packages initialise (about 1 MB and 10 ms per
// container). The shim owns the logger, so logging continues while the agent restarts, and
// stdout and stderr stay separate with per-line timestamps. A container with stdin and no TTY is
// the exception: the shim cannot combine a logger with a stdin pipe, so its streams are FIFOs
// that the agent copies into the same log format, and New reconnects them after a restart.
// Attach follows the log for output and writes to stdin; Exec uses FIFOs.
//
// # What the agent must do
//
// On startup: CheckHost; StartDaemon (or use an existing containerd with Config.Address); New,
// which waits for containerd; ListSandboxes and ListContainers to adopt what runs (running
// containers keep running and keep their PIDs; exits that happened meanwhile are reported with
// their exit codes); RunSandbox again for sandboxes that are NotReady (host reboot: containers of
// such pods must be recreated); StopSandbox and RemoveContainer for pods that are no longer
// wanted. Then consume Events and reconcile periodically: events are hints and can be lost.
// Version reports ErrUnavailable while containerd is down, for the node's runtime condition.
//
// The binary that uses this package is also the container logger: it must not be deleted or
// replaced in a way that breaks os.Executable while containers start (Config.LoggerPath can name
// another copy).
package runtime
