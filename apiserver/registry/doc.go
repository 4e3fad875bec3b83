// Package registry stores Kubernetes objects in raftstore: one generic Store per resource,
// parameterised by a Strategy, behind the API handlers and the in-process controllers alike.
//
// Objects are kept as protobuf under /registry/<resource>/<namespace>/<name> (cluster-scoped:
// /registry/<resource>/<name>). An object's resourceVersion is the ModRevision of its key and
// is never stored inside the value. Every write is a raftstore transaction with preconditions
// on what it read (the key's ModRevision), so concurrent writers and deposed leaders get a
// Conflict instead of overwriting each other.
//
// Errors are *k8s.io/apimachinery/pkg/api/errors.StatusError values for API semantics
// (NotFound, AlreadyExists, Conflict, Invalid, Gone...) and raftstore's sentinels for store
// failures (no leader, unknown outcome, quota); the apiserver maps both in one place.
package registry
