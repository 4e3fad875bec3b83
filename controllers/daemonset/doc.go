// Package daemonset is Capstan's apps/v1 DaemonSet controller. It keeps one
// daemon pod on every node that should run one, rolls out template changes
// and reports what it sees in the DaemonSet's status, as Kubernetes 1.32's
// pkg/controller/daemon does:
//
//   - A node should run a daemon pod when the template's nodeName (if set),
//     nodeSelector and required node affinity match it, and the template's
//     tolerations plus the daemon tolerations tolerate its NoSchedule and
//     NoExecute taints. A pod may stay on a node whose untolerated taints are
//     only NoSchedule; otherwise pods on nodes that should not run one are
//     deleted.
//   - Daemon pods are created from the template with generateName "<ds>-", a
//     controller ownerReference, the labels controller-revision-hash and
//     pod-template-generation, the daemon tolerations (not-ready and
//     unreachable NoExecute without tolerationSeconds; disk-, memory- and
//     pid-pressure and unschedulable NoSchedule; network-unavailable
//     NoSchedule for hostNetwork pods) and a required node affinity
//     matchFields metadata.name In [<node>], so the scheduler binds them
//     there. spec.nodeName is never set by the controller.
//   - Extra pods on a node are deleted, keeping the oldest; succeeded pods are
//     deleted, and failed pods are deleted (FailedDaemonPod event) and so
//     recreated, with a per-node exponential back-off (1 s to 15 min).
//     Unbound pods pinned to nodes that no longer exist are deleted.
//   - RollingUpdate (the default) replaces old-revision pods keeping at most
//     maxUnavailable nodes without an available pod, or, with maxSurge,
//     starts the new pod first and deletes the old one once the new one is
//     available. OnDelete only replaces pods that were deleted.
//   - Every template is recorded as a ControllerRevision (package
//     controllers/internal/history) whose data is the strategic-merge patch
//     kubectl rollout undo applies; revisions are adopted, owned and
//     truncated to spec.revisionHistoryLimit (default 10), and a revision name
//     collision bumps status.collisionCount.
//   - Expectations hold a DaemonSet back until the pod informer has observed
//     the creations and deletions of its previous sync, so a stale cache
//     never doubles a pod. Pods matching the selector are adopted and owned
//     pods that stop matching are released.
//   - Status carries desiredNumberScheduled, currentNumberScheduled,
//     numberMisscheduled, numberReady, updatedNumberScheduled,
//     numberAvailable (honouring minReadySeconds, with a requeue when the
//     next pod becomes available), numberUnavailable, observedGeneration and
//     collisionCount, written through the status subresource only on change.
//   - Node events enqueue the DaemonSets whose decision for that node may
//     have changed.
//
// Differences from Kubernetes, all deliberate: pinning a pod to its node keeps
// the template's other required node affinity terms (each term gets the
// metadata.name requirement, replacing any it had) rather than replacing
// them all; pod-template-generation is metadata.generation (Capstan's API
// server sets no deprecated.daemonset.template.generation annotation); pod
// deletions carry the pod's UID as precondition; the node matcher is a small
// copy of the scheduler's, whose matcher is unexported.
//
// The Controller is level-triggered: informer handlers only enqueue
// "namespace/name" keys, and Sync reconciles one key from the listers. Tests
// call Sync directly.
package daemonset
