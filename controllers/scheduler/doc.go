// Package scheduler is Capstan's pod scheduler, run by the Raft leader like the other
// controllers. It assigns pending pods to nodes with the placement package (kube-scheduler's
// default filters and scores) and writes the assignments through a Binder, many pods per
// store transaction.
//
// A pod is pending when it has no spec.nodeName, asks for this scheduler (spec.schedulerName,
// empty meaning "default-scheduler"), has no scheduling gates, is not being deleted and has
// not finished. Informer handlers keep a queue of pending pods; each pass (ScheduleOnce)
// takes up to Options.BatchSize of them, highest spec.priority first and then oldest,
// places them one by one against a snapshot of the nodes that every placement updates, and
// binds all of them with one Binder.Bind call. Under Run, that call runs in the background
// while the next pass places the next batch (one Bind call in flight at a time; its pods
// count as assumed meanwhile). Each placement examines nodes from where the previous one
// stopped and scores only the first feasible ones, as many as kube-scheduler's adaptive
// percentageOfNodesToScore asks for (Options.PercentageOfNodesToScore). The snapshot's
// per-node state is cached between passes: a newly bound pod is added to its node's state,
// and only nodes whose other pods or Node changed are rebuilt.
//
// Placed pods are assumed: until the pod informer shows a newer version of the pod (its
// binding makes one) and the cached node state counts it, the pod's requests count against
// its node, so two pods are never
// placed on a node that fits only one, and a bound pod the informer still shows as pending
// is never placed again. A failed binding un-assumes the pod and requeues it with back-off;
// a binding whose outcome is unknown (a timeout) keeps the pod counting, as if bound, and
// requeues it with back-off, the Binder's precondition making a second write fail if the
// first one happened. A bound pod that the informer has not caught up with after
// AssumedPodTTL stops counting against its node, but is still never placed again: the
// Binder's resourceVersion precondition guards the store, and the scheduler does not even
// try.
//
// A pod that fits nowhere gets its PodScheduled condition set to False, reason
// Unschedulable, with the placement.FitError message ("0/3 nodes are available: 1 node(s)
// had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu."), written
// with UpdateStatus carrying the pod's resourceVersion and skipped when the condition
// already says so, and a Warning FailedScheduling event with the same message. It is
// retried at once when a node is added, deleted or changed in a way that matters to
// placement, or when a bound pod is deleted or finishes; otherwise after a back-off of
// InitialBackoff doubling to MaxBackoff. Successful bindings record a Normal Scheduled event
// "Successfully assigned ns/pod to node".
//
// Differences from kube-scheduler: pods are placed in batches against one snapshot and
// bound together, not one scheduling cycle and one binding request per pod; there is no
// preemption, so no nominated nodes and no "preemption:" part in messages; binding errors
// are reported by a FailedScheduling event ("binding rejected: ...") and a back-off, without
// touching the PodScheduled condition; unschedulable pods stay in the unschedulable set at
// most MaxBackoff rather than five minutes; and bound pods stop counting after
// AssumedPodTTL when their binding is never observed (recent kube-scheduler versions keep
// counting them until it is).
package scheduler
