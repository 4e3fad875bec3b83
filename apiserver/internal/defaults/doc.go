// Package defaults sets the default values Kubernetes v1.32 gives the objects
// Capstan serves, so that what a client reads back (kubectl get -o yaml) is what
// a user of a real cluster sees.
//
// Kubernetes fills in defaults in several places; this package gathers the ones
// that depend only on the object itself:
//
//   - the scheme defaulters of pkg/apis/*/v1 (SetDefaults_* and the declarative
//     +default markers), for example restartPolicy Always, imagePullPolicy,
//     probe timeouts, Deployment strategy 25%/25%;
//   - the v1 conversion side effects that survive a round trip through storage,
//     for example Secret stringData merged into data, Pod status podIP/podIPs
//     and Node podCIDR/podCIDRs kept in sync, spec.serviceAccount mirroring
//     spec.serviceAccountName;
//   - the object-local parts of admission and registry strategies that users see
//     on every object: Pod priority 0 and preemptionPolicy PreemptLowerPriority
//     (Priority admission), the not-ready/unreachable NoExecute tolerations
//     (DefaultTolerationSeconds admission), serviceAccountName "default"
//     (ServiceAccount admission, without the token volume), Service
//     ipFamilyPolicy and clusterIPs normalisation.
//
// Apply is idempotent and safe to run on every write, spec or status. Create adds
// the defaults Kubernetes sets only when an object is created (Namespace
// spec.finalizers, the generated Job selector and labels), and Update carries
// values Kubernetes preserves from the stored object (allocated Service cluster
// IPs and node ports, Pod priority).
//
// This package never allocates anything that needs cluster state: cluster IPs,
// node ports, ipFamilies, the service account token volume and PriorityClass
// lookups belong to the registry. Types the package does not know are left
// unchanged.
package defaults
