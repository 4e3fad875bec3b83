// Package workload drives the chaos suite's traffic through the Kubernetes HTTP API with
// client-go, against every master, and records it in a history.Recorder.
//
// KV is the object workload: ConfigMaps over a few hot keys, each write carrying a value
// unique in the run. Clients are pinned to a master slot (a slot keeps its clients when its
// master is replaced) or roam between masters; each has one request in flight and takes a new
// client ID after an unknown outcome. They create, update with and without resourceVersion
// preconditions, delete with preconditions, get and list linearizably. Watchers, one per slot
// plus a roaming one, list and then watch with bookmarks, resume from the last
// resourceVersion they saw after a stream ends, and re-list after 410 Gone.
//
// Deploy is the Deployment workload: one Deployment scaled and rolled through random masters
// while the controllers on the leader reconcile it. Without node agents its pods stay
// Pending, so its end state is judged by replica counts (the Deployment's spec against its
// ReplicaSets' spec and status); a pod watch records every binding for the bound-once check.
//
// Requests are sent with client-go's REST client with retries off, so every recorded
// operation is exactly one HTTP request.
package workload
