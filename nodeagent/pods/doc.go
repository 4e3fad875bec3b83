// Package pods is the kubelet's pod lifecycle for Capstan's node agent: one worker goroutine per
// pod bound to the node turns the pod's spec and the runtime's state (nodeagent/runtime) into
// actions and reports the result as the pod's status.
//
// # Workers
//
// The agent hands every version of its pods to Manager.Sync and deleted pods to Manager.Remove;
// Manager.Run runs the workers. A worker syncs level-triggered: when poked by Sync, by a runtime
// event of its pod, by a probe result that changed, at a deadline it computed (a back-off that
// expires, a coalesced status write) and every ResyncPeriod. One sync lists the pod's containers
// in the runtime, sets up the sandbox (network namespace with the pod's host ports) and the pod
// directory RootDir/pods/<uid> (volumes, etc-hosts, resolv.conf), runs the init containers one
// after the other, then starts or restarts the app containers as the restart policy asks,
// removes old attempts, starts or stops probers and writes the status.
//
// Every start of a container is a new runtime container (attempt N is ContainerID(uid, name, N)),
// so restartCount is the latest attempt, lastState is the attempt before it, and the latest
// terminated attempt stays for `kubectl logs --previous`; older ones are removed. Restarts follow
// the kubelet's CrashLoopBackOff: the first restart is immediate, later ones wait 10 s doubling
// to 5 min, reset after 10 min without a failure. Image pulls back off the same way
// (ErrImagePull, then ImagePullBackOff).
//
// State lives in the runtime and the API, not in the worker: after an agent restart, Run finds
// the recorded sandboxes, and the workers (created by the first Sync of each pod) adopt running
// containers as they are. A sandbox whose network namespace vanished (host reboot) is set up
// again and its containers restart per the restart policy. Pods the runtime runs that the API no
// longer has are removed once the agent calls SetSourcesReady.
//
// A pod with a deletionTimestamp is terminated: preStop hooks and StopContainer share the grace
// period (deletionGracePeriodSeconds), the sandbox is stopped, and the pod is deleted from the
// API with grace period 0 and a UID precondition, which completes `kubectl delete pod`. Pods that
// succeeded or failed keep their status and containers; their sandbox is stopped.
//
// # Approximations
//
//   - emptyDir with medium Memory is a plain directory (no tmpfs); sizeLimit is not enforced.
//   - Service account tokens are not issued: the serviceAccountToken source of a projected volume
//     writes no file (its configMap, secret and downwardAPI sources are written).
//   - configMap, secret, downwardAPI and projected volumes are rewritten atomically (..data
//     symlink) every ConfigRefreshPeriod; subPath mounts of them do not see updates, as in
//     Kubernetes.
//   - No /dev/termination-log, fsGroup, hostNetwork/hostPID/hostIPC, sidecar (restartable)
//     init containers, gRPC probes, ephemeral containers or in-place resize.
//   - Container status order: app containers sorted by name, init containers in spec order.
package pods
