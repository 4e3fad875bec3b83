// Package replicaset is Capstan's ReplicaSet controller. It keeps the number of
// active pods of every ReplicaSet equal to spec.replicas and reports what it
// sees in the ReplicaSet's status, as Kubernetes' pkg/controller/replicaset
// does:
//
//   - Scale up creates pods from spec.template (generateName "<rs>-", a
//     controller ownerReference to the ReplicaSet) in slow-start batches of
//     1, 2, 4, ... so that a systematic failure costs one request, not
//     hundreds; at most 500 pods are created or deleted per sync.
//   - Scale down deletes the least valuable pods first (unscheduled, pending,
//     not ready, low deletion cost, doubled up on a node, recently ready, often
//     restarted, young), each delete carrying the pod's UID as precondition.
//   - Expectations hold a ReplicaSet back until the pod informer has observed
//     the creations and deletions of its previous sync, so a stale cache never
//     causes duplicate pods.
//   - Orphan pods matching the selector are adopted and owned pods that stop
//     matching are released, with strategic-merge patches on ownerReferences
//     that name the pod's UID and resourceVersion.
//   - Status carries replicas, fullyLabeledReplicas, readyReplicas,
//     availableReplicas (honouring minReadySeconds, with a requeue when the
//     next pod becomes available), observedGeneration and a ReplicaFailure
//     condition when creating or deleting pods fails.
//
// Differences from Kubernetes, all deliberate: adoption and release patches
// carry the pod's resourceVersion and deletions its UID as preconditions; the
// availability requeue waits exactly until the next ready pod passes
// minReadySeconds; a ReplicaSet without a controller ranks co-location among
// its own pods.
//
// Pods being deleted (deletionTimestamp set) or in a terminal phase are not
// active and are ignored.
//
// The Controller is level-triggered: informer handlers only enqueue
// "namespace/name" keys, and Sync reconciles one key from the listers. Tests
// call Sync directly.
package replicaset
