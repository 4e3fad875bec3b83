// Package tables converts API objects into meta.k8s.io/v1 Tables, the server-side printing that
// kubectl asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//
// kubectl 1.32 carries no client-side printers for built-in types, so the columns built here are
// exactly what `kubectl get` shows. Each supported resource has the column set, cell strings and
// status summaries that a real Kubernetes 1.32 apiserver produces (pod STATUS reasons such as
// CrashLoopBackOff or Init:0/1, READY 1/1, RESTARTS "3 (5m ago)", node ROLES, service PORT(S)
// "80:30080/TCP", and so on). Like the reference apiserver, every Table carries the `-o wide`
// columns too; they are marked with priority 1 and kubectl hides them unless asked.
//
// Resources without a dedicated column set (including roles and clusterroles, exactly as in
// Kubernetes) get the default convertor's `Name` and `Created At` columns.
//
// Use For to pick the Convertor of a group resource and Convert to build the Table of one object
// or of a list. Convertors are immutable and safe for concurrent use.
//
// Watch streams: the reference apiserver sends column definitions only with the first watch event
// of a stream and omits them afterwards (Options.NoHeaders). kubectl 1.32 (cli-runtime's
// HumanReadablePrinter) reuses the column definitions it last saw when a Table has none, and skips
// the header line when the definitions equal the previous ones, so either choice prints correctly;
// omitting them after the first event matches Kubernetes and saves bandwidth.
package tables
