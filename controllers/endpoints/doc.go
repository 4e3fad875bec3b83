// Package endpoints is Capstan's endpoints controller. For every Service with
// a selector it maintains both the Endpoints object of the same name and the
// Service's EndpointSlices, as Kubernetes' pkg/controller/endpoint and
// pkg/controller/endpointslice do together.
//
// Endpoints: the subsets list, per pod the selector matches, the pod's IP of
// the service's primary family with its nodeName and a targetRef to the pod
// (and its hostname when the pod names the service as its subdomain): ready
// pods under addresses, unready ones under notReadyAddresses (all of them
// under addresses with publishNotReadyAddresses). Ports are resolved per pod
// from each service port's targetPort, a number or a named container port of
// the same protocol (sidecar init containers included); a pod without a
// service port's named port is left out of that port. Ports offered by the
// same addresses share a subset, as Kubernetes' RepackSubsets builds them.
// Pods that have finished, have no IP or are terminating are left out
// (terminating ones are kept with publishNotReadyAddresses). Beyond
// MaxEndpointsCapacity addresses the object is truncated and annotated
// endpoints.kubernetes.io/over-capacity=truncated. The object carries the
// service's labels, service.kubernetes.io/headless for a headless service and
// LabelEndpointsManagedBy=ControllerName.
//
// EndpointSlices: one slice per address type (the service's IP families) and
// list of resolved ports, split into several slices beyond
// DefaultMaxEndpointsPerSlice endpoints; generateName "<service>-", labels
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by=
// ControllerName plus the service's labels, a controller ownerReference to
// the service. Terminating pods are included; each endpoint carries the
// conditions ready (serving and not terminating, or always with
// publishNotReadyAddresses), serving and terminating, its nodeName and a
// targetRef. Endpoints stay in the slice that holds them; new ones fill
// existing slices first; a slice no longer needed is reused before a new one
// is created. A service without endpoints keeps one empty placeholder slice.
//
// A service that is deleted, loses its selector or becomes ExternalName has
// its managed Endpoints and slices deleted (UID preconditions). Endpoints
// objects without the managed-by label belong to users (services without
// selector) and are never touched.
//
// Writes carry preconditions: updates the cached resourceVersion, deletions
// the cached UID. Slices created or deleted are remembered until the
// informer shows them (at most five minutes), and the service is not synced
// again before, so a stale cache never creates duplicate slices.
//
// Informer event handlers only enqueue "namespace/name" service keys; Sync
// reconciles one service and tests call it directly.
package endpoints
