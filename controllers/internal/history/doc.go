// Package history keeps the ControllerRevisions of a workload controller that
// records its pod template history, as Kubernetes' DaemonSet and StatefulSet
// controllers do, so that kubectl rollout history and kubectl rollout undo
// work against Capstan:
//
//   - HashTemplate hashes a pod template (plus the owner's collisionCount)
//     exactly as Kubernetes' controller.ComputeHash does, so pods and revisions
//     carry the hashes a Kubernetes cluster would give them.
//   - TemplatePatch builds the revision data kubectl expects: the strategic
//     merge patch {"spec":{"template":{...,"$patch":"replace"}}} that restores
//     the template when kubectl rollout undo sends it to the owner.
//   - Store.Current finds the revision whose data equals the owner's current
//     one (deleting duplicates and bumping its revision number above every
//     other revision) or creates it, named "<owner>-<hash>"; a name taken by
//     different data is reported as ErrHashCollision so the caller can bump
//     status.collisionCount.
//   - Store.Truncate deletes the oldest revisions beyond revisionHistoryLimit,
//     sparing those that live pods still run.
//
// Claiming revisions (adoption and release by selector) is left to the caller,
// with ownership.Claimer and Store.Patch.
//
// Difference from Kubernetes, deliberate: when duplicate current revisions are
// found, the duplicates are deleted without relabelling pods that carry their
// hash; such pods are then treated as old and replaced by the next rollout.
package history
