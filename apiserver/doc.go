// Package apiserver serves the Kubernetes API, wire-compatible with kubectl and client-go
// v1.32, from raftstore. Every master runs one: reads and watches come from the local store,
// writes go through raftstore to the leader.
//
// A request passes through authentication, authorization, request parsing and content
// negotiation (server.go), then a handler (handlers.go, watch.go, subresources.go) that calls
// the resource's registry.Store. Errors become metav1.Status in one place (errors.go).
package apiserver
