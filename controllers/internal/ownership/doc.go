// Package ownership holds the two pieces of bookkeeping a controller needs to
// own objects safely: claiming (adopting orphans that match its selector and
// releasing owned objects that no longer match, through ownerReferences) and
// expectations (not acting twice on an owner before the informer has observed
// the creations and deletions already issued for it).
//
// Both follow Kubernetes' pkg/controller (controller_ref_manager.go and the
// ControllerExpectations/UIDTrackingControllerExpectations of
// controller_utils.go), with one deliberate difference: adoption and release
// patches carry the target's resourceVersion as well as its UID, so a patch
// computed from a stale cache fails with 409 Conflict instead of applying.
package ownership
