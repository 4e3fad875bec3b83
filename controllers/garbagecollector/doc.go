// Package garbagecollector is Capstan's garbage collector: it enforces
// Kubernetes' ownerReference semantics across every served resource, as
// Kubernetes' pkg/controller/garbagecollector does.
//
//   - Background: an object none of whose owners exists any more is deleted
//     (propagationPolicy Background, or the policy its own orphan or
//     foregroundDeletion finalizer asks for). Owners are identified by UID
//     at the coordinates the reference names (apiVersion/kind/name, in the
//     dependent's namespace for a namespaced kind). An owner missing from the
//     informers is always confirmed with an uncached GET through the metadata
//     client, and the dependent itself is read the same way, before anything
//     is deleted; the delete carries the dependent's UID and resourceVersion
//     as preconditions. A stale cache therefore never causes a wrong delete.
//     Owners confirmed absent are remembered (by coordinates and UID, which
//     never come back), so the pods of a deleted ReplicaSet cost one owner
//     lookup, not one each.
//   - An object with at least one existing owner is kept; references to
//     owners that are gone, or that are being deleted in the foreground, are
//     removed from it.
//   - Foreground: an owner being deleted with the foregroundDeletion
//     finalizer has its dependents deleted (a dependent that has dependents
//     of its own is deleted with Foreground propagation, so the whole tree
//     goes bottom-up); the finalizer is removed once no dependent with
//     blockOwnerDeletion=true remains.
//   - Orphan: an owner being deleted with the orphan finalizer has its
//     reference removed from every dependent, then the finalizer removed.
//
// A cluster-scoped object may own namespaced ones, not the reverse; a
// reference from a cluster-scoped object to a namespaced kind, and a
// reference to a kind that is not served, is never treated as gone.
//
// The "graph" is two indexes added to the shared informers of every resource:
// UID to object and owner UID to dependents. Informer event handlers only
// enqueue Items (an object's resource, namespace, name and UID): the objects
// whose owners may be gone, the dependents of deleted objects, owners being
// deleted with a finalizer the collector serves and owners waiting for a
// dependent that went away. A periodic full pass (DefaultResyncPeriod)
// enqueues whatever the cache shows still needs attention, to catch anything
// missed. Sync examines one Item; tests call it directly.
//
// Metadata writes are JSON patches of metadata.ownerReferences or
// metadata.finalizers that start with "test" operations on metadata.uid and
// metadata.resourceVersion, so that a patch computed from a stale read fails
// (409 or 422) instead of clobbering a concurrent change; the collector then
// re-reads the object and retries.
package garbagecollector
