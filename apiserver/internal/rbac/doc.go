// Package rbac implements Kubernetes role-based access control for Capstan's
// apiserver with the semantics of Kubernetes v1.32: the RBAC authorizer, the
// privilege-escalation checks the registry runs on writes of Roles,
// ClusterRoles and their bindings, ClusterRole aggregation, the default
// (bootstrap) policy, and the per-node restriction that Kubernetes' NodeRestriction
// admission plugin enforces.
//
// # Authorization
//
// An Authorizer reads Roles, ClusterRoles and bindings from a RuleSource (the
// apiserver backs it with its store or an informer-like cache). Authorize
// walks every ClusterRoleBinding, then, for a namespaced request, every
// RoleBinding of that namespace; the request is allowed as soon as one rule of
// a role bound to the user matches it. RBAC has no deny rules: a request that
// no rule matches is refused. Members of system:masters are always allowed, as
// Kubernetes' apiserver does with the privileged-group authorizer it places in
// front of RBAC.
//
// A rule matches a resource request when its verbs, API groups, resources and
// resource names match; "*" matches any verb, group or resource, a resource
// "pods/log" names a subresource, a resource "*/status" matches the status
// subresource of every resource, and an empty resourceNames matches every
// name. A rule matches a non-resource request (Attributes.ResourceRequest
// false) when its verbs match and one of its nonResourceURLs is "*", equals
// the path, or ends in "*" and is a prefix of the path once the stars are
// removed.
//
// On refusal Authorize returns the text Kubernetes puts in a 403 response, for
// example
//
//	User "jane" cannot list resource "pods" in API group "" in the namespace "default"
//
// followed by ": RBAC: <errors>" when some binding could not be resolved (a
// role that does not exist). The apiserver sends it as
// apierrors.NewForbidden(schema.GroupResource{Group: attr.APIGroup, Resource:
// attr.Resource}, attr.Name, errors.New(reason)), which kubectl prints as
// `Error from server (Forbidden): pods is forbidden: User "jane" cannot ...`.
// For non-resource requests the group resource is empty and the message reads
// `forbidden: User "jane" cannot get path "/metrics"`.
//
// # Writes of RBAC objects
//
// The registry calls CheckRole, CheckClusterRole, CheckRoleBinding and
// CheckClusterRoleBinding before it stores a created or updated object, as
// Kubernetes' policy-based RBAC storage does:
//
//   - a user may create or update a Role or ClusterRole only if it already
//     holds every permission the role grants (in the role's namespace), or if
//     it may "escalate" roles or clusterroles; writing a ClusterRole that
//     has, or had, an aggregationRule also requires full authority (the
//     rules of cluster-admin);
//   - a user may create or update a binding only if it may "bind" the
//     referenced role (in the binding's namespace, or cluster-wide for a
//     ClusterRoleBinding), or if it already holds every permission of the
//     referenced role;
//   - members of system:masters may always write, and an update that only
//     changes ownerReferences or finalizers (the garbage collector's edits) is
//     never checked.
//
// ConfirmNoEscalation and CanBind are the two underlying checks. Refusals
// satisfy errors.Is(err, ErrForbidden) and carry Kubernetes' message, for
// example
//
//	user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//	{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
//
// which the apiserver wraps in apierrors.NewForbidden with the group resource
// and name of the object being written. A binding whose role does not exist is
// refused with a *NotFoundError (404) unless the user may bind it.
//
// # Aggregation
//
// ClusterRoles with an aggregationRule get their rules from the ClusterRoles
// their label selectors match. As in Kubernetes this is done by a controller
// that rewrites the aggregated role's rules (Aggregate computes them); the
// authorizer reads the stored rules and does not aggregate at evaluation time,
// so `kubectl get clusterrole admin -o yaml` shows what the authorizer uses.
// BootstrapPolicy returns admin, edit and view already aggregated, so they
// work before the controller first runs.
//
// # Nodes
//
// The bootstrap system:node role is bound to the group system:nodes because
// Capstan has no Node authorizer (in Kubernetes the binding has no subjects).
// RBAC cannot say "only your own Node" or "only pods bound to you":
// NodeRestriction, called by the apiserver after authorization, enforces that
// for users named system:node:<name> in the group system:nodes.
//
// # Concurrency
//
// An Authorizer holds no mutable state; its methods may be called from any
// number of goroutines, and the RuleSource must allow that too. Package
// rbactest provides an in-memory RuleSource for tests.
package rbac
