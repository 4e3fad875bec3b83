// Package deployment is Capstan's Deployment controller. It rolls a
// Deployment's pod template out through ReplicaSets exactly as Kubernetes'
// pkg/controller/deployment does, so that kubectl rollout status, history,
// undo, restart, pause and resume behave as on Kubernetes:
//
//   - Each pod template gets a ReplicaSet named "<deployment>-<hash>", where
//     hash is the pod-template-hash of the template (and status.collisionCount),
//     carried as the pod-template-hash label on the ReplicaSet, its selector,
//     its template and so its pods, and owned through a controller
//     ownerReference.
//   - The ReplicaSet of the current template carries the highest
//     deployment.kubernetes.io/revision (the maximum of the others plus one),
//     so returning to an older template (rollout undo) renumbers that
//     template's ReplicaSet instead of creating a new one; the Deployment
//     carries the same revision. kubernetes.io/change-cause and the other
//     Deployment annotations are copied to the new ReplicaSet, and every
//     ReplicaSet the controller scales records the desired-replicas and
//     max-replicas annotations.
//   - RollingUpdate scales the new ReplicaSet up and old ones down within
//     maxSurge and maxUnavailable (absolute or percentages, surge rounded up and
//     unavailability rounded down); Recreate scales every old ReplicaSet to
//     zero and waits for their pods to be gone before scaling the new one up.
//   - Scaling a Deployment during a rollout, or while paused, scales its
//     active ReplicaSets proportionally; a paused Deployment is never rolled
//     out.
//   - Old ReplicaSets with no replicas beyond revisionHistoryLimit are deleted,
//     oldest revision first.
//   - Status carries observedGeneration, replicas, updatedReplicas,
//     readyReplicas, availableReplicas, unavailableReplicas, collisionCount and
//     the Available and Progressing conditions (ProgressDeadlineExceeded once
//     progressDeadlineSeconds pass without progress).
//
// Differences from Kubernetes, all deliberate: the Deployment's revision
// annotation is written with an ordinary update rather than through the status
// subresource (Capstan's status updates, like most resources' in Kubernetes,
// keep metadata unchanged); adoption and release patches carry the
// ReplicaSet's resourceVersion and deletions its UID as preconditions; errors
// while scaling old ReplicaSets down are returned (and retried) instead of
// being dropped; after every write the in-memory Deployment or ReplicaSet is
// replaced by the stored one, so one sync never conflicts with itself; the
// extensions/v1beta1 rollback annotation is not supported (kubectl rollout
// undo patches the template instead).
//
// The Controller is level-triggered: informer handlers only enqueue
// "namespace/name" keys and Sync reconciles one Deployment from the listers.
// Tests call Sync directly.
package deployment
