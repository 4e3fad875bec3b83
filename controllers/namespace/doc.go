// Package namespace is Capstan's namespace lifecycle controller: it empties a
// namespace that is being deleted and then releases it, as Kubernetes'
// pkg/controller/namespace (namespaced_resources_deleter.go) does.
//
// Deleting a namespace makes the API set its deletionTimestamp and
// status.phase=Terminating and keep it while spec.finalizers holds
// "kubernetes". For such a namespace, Sync
//
//   - sets status.phase=Terminating if the API has not;
//   - issues one DeleteCollection (propagationPolicy Background) for every
//     namespaced resource that still holds objects in the namespace that are
//     not being deleted yet; the objects' own finalizers and grace periods are
//     respected, so some of them stay for a while;
//   - reports progress in the namespace's status conditions, with Kubernetes'
//     types, reasons and messages: NamespaceDeletionDiscoveryFailure,
//     NamespaceDeletionGroupVersionParsingFailure (always False: Capstan's
//     resources are static), NamespaceDeletionContentFailure,
//     NamespaceContentRemaining and NamespaceFinalizersRemaining. The status
//     update is best effort;
//   - returns an error wrapping ErrContentRemaining while objects remain, so
//     that the key is retried with a short exponential back-off
//     (DefaultMinRetryDelay to DefaultMaxRetryDelay, see WithRetryDelays);
//     the deletion of any object in a terminating namespace also requeues it
//     at once;
//   - once the informers show no object left, confirms emptiness with one
//     uncached List per namespaced resource through the metadata client (a
//     stale cache must never release a namespace that still holds objects),
//     and then removes "kubernetes" from spec.finalizers through the finalize
//     subresource, carrying the namespace's resourceVersion so that a stale
//     read fails with 409 Conflict instead of dropping somebody else's
//     finalizer.
//
// Reads come from shared informers (Informers) and the namespace lister;
// writes go through a kubernetes.Interface (namespace status and finalize)
// and a metadata.Interface (DeleteCollection and the confirming List for any
// resource). Informer event handlers only enqueue namespace names; Sync
// reconciles one name and tests call it directly.
package namespace
