// Package check holds the chaos suite's invariant checkers. Each reads a recorded
// history.History and reports violations; none talks to the cluster.
//
// The checkers share one reconstruction of the cluster's write log: the union of every watch
// stream's events, keyed by (resourceVersion, key). Unique written values tie operations to
// log entries, which resolves most unknown outcomes before the linearizability check (as in
// etcd's robustness tests) and lets the other checkers compare lists, final states and
// acknowledged writes against a replay of the log. Ranges of revisions that no watch stream
// vouched for are reported as unverified, never as passing.
//
// The checkers:
//
//   - Linearizability: porcupine, partitioned by object key.
//   - LostWrites: every acknowledged create and update is in the log and in the final state
//     unless a later write replaced it.
//   - ResourceVersions: acknowledged writes have unique resourceVersions that follow real
//     time; consistent lists never go back in time.
//   - Watches: each stream is ordered, has no duplicates and no gaps against the log, and its
//     bookmarks are honest; masters agree on the log.
//   - ListReplay: a list at revision R equals the replay of the log up to R.
//   - Conflicts: no two writes succeeded with the same precondition, and no write reported as
//     failed (409, 404, 503) was applied.
//   - Convergence: every master reports the same state at the same revision.
//   - Deployments: the controllers converged the Deployment workload's replica counts.
//   - Bindings: no pod was bound to two nodes.
//   - Recovery: every fault was healed and the cluster became healthy again.
//
// Availability is a measurement, not a checker: the time from each fault to the first
// successful write, read and watch event.
package check
