// Package serviceaccount is Capstan's service account controller: every
// active namespace has a ServiceAccount called "default", and the controller
// recreates it when it is deleted, as Kubernetes' pkg/controller/serviceaccount
// (serviceaccounts_controller.go) does.
//
// A namespace that is being deleted (deletionTimestamp set or phase
// Terminating) gets no service account: the API refuses creations in it, and
// a refusal whose cause is NamespaceTerminating is not an error. The
// controller creates service accounts only; it never updates or deletes them.
//
// Informer event handlers only enqueue namespace names (a namespace added or
// updated, or a "default" service account deleted); Sync reconciles one
// namespace from the listers and tests call it directly.
package serviceaccount
