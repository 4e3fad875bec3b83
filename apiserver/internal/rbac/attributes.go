package rbac

import (
	"fmt"
	"slices"
	"strings"
)

// Well-known user and group names, as Kubernetes' authenticators set them.
const (
	// GroupMasters is the group whose members may do anything (system:masters).
	GroupMasters = "system:masters"
	// GroupAuthenticated is added to every authenticated user.
	GroupAuthenticated = "system:authenticated"
	// GroupUnauthenticated is the group of anonymous requests.
	GroupUnauthenticated = "system:unauthenticated"
	// GroupNodes is the group of node (kubelet) identities.
	GroupNodes = "system:nodes"
	// GroupServiceAccounts is the group of every service account; the group of
	// the service accounts of one namespace is GroupServiceAccounts + ":" + namespace.
	GroupServiceAccounts = "system:serviceaccounts"
	// GroupMonitoring is the group allowed to read /metrics and the health checks.
	GroupMonitoring = "system:monitoring"

	// UserAnonymous is the name of anonymous requests.
	UserAnonymous = "system:anonymous"
	// UserKubeProxy is the name of kube-proxy (bound to system:node-proxier).
	UserKubeProxy = "system:kube-proxy"

	// NodeUserPrefix starts the name of a node identity: system:node:<node name>.
	NodeUserPrefix = "system:node:"
	// ServiceAccountUserPrefix starts the name of a service account identity:
	// system:serviceaccount:<namespace>:<name>.
	ServiceAccountUserPrefix = "system:serviceaccount:"
)

// User is an authenticated identity. The authenticator fills Groups as
// Kubernetes does, including system:authenticated for every authenticated user
// (or system:unauthenticated for anonymous requests) and, for service
// accounts, system:serviceaccounts and system:serviceaccounts:<namespace>.
// The authorizer does not add any group itself.
type User struct {
	// Name is the user name, for example "jane", "system:node:n1" or
	// "system:serviceaccount:default:builder".
	Name string
	// UID identifies the user across name reuse; RBAC does not use it.
	UID string
	// Groups are the groups the user belongs to.
	Groups []string
}

// Attributes describe one request, as the apiserver parsed it.
type Attributes struct {
	// User is who makes the request.
	User User
	// Verb is, for resource requests, the Kubernetes verb: get (GET of one
	// object), list (GET of a collection), watch (GET with watch=true), create
	// (POST), update (PUT), patch (PATCH), delete (DELETE of one object),
	// deletecollection (DELETE of a collection), or the special verb of a check
	// (impersonate, bind, escalate, use, approve, ...). For non-resource
	// requests it is the lower-case HTTP method (get, post, put, patch, delete,
	// head, options).
	Verb string
	// ResourceRequest is true for requests under /api/<version> and
	// /apis/<group>/<version>, and false for other paths such as /healthz.
	ResourceRequest bool
	// APIGroup is the request's API group, "" for the core group.
	APIGroup string
	// Resource is the plural resource name, for example "pods".
	Resource string
	// Subresource is the subresource, for example "status", "log" or "scale".
	Subresource string
	// Namespace is the request's namespace, "" for cluster-scoped resources and
	// for requests across all namespaces. For a request on one Namespace object
	// (/api/v1/namespaces/<name>, and its subresources) it is that namespace's
	// name, as Kubernetes' request info sets it, so that a RoleBinding granting
	// get on namespaces lets its subjects read their own namespace.
	Namespace string
	// Name is the object's name, "" for list, watch, deletecollection and for
	// create (POST) requests.
	Name string
	// Path is the URL path of a non-resource request, for example "/version"
	// or "/openapi/v3".
	Path string
}

// ServiceAccountUser returns the identity Kubernetes gives the service account
// namespace/name: user system:serviceaccount:<namespace>:<name> in the groups
// system:serviceaccounts, system:serviceaccounts:<namespace> and
// system:authenticated.
func ServiceAccountUser(namespace, name, uid string) User {
	return User{
		Name: ServiceAccountUserPrefix + namespace + ":" + name,
		UID:  uid,
		Groups: []string{
			GroupServiceAccounts,
			GroupServiceAccounts + ":" + namespace,
			GroupAuthenticated,
		},
	}
}

// NodeIdentity reports whether u is a node identity, as Kubernetes' node
// identifier decides: a name starting with system:node: and membership in
// system:nodes. name is the node's name; it is empty for the user
// "system:node:", which is a node identity whose node cannot be determined.
func NodeIdentity(u User) (name string, isNode bool) {
	rest, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	if !ok || !slices.Contains(u.Groups, GroupNodes) {
		return "", false
	}
	return rest, true
}

// isMaster reports whether u belongs to system:masters.
func isMaster(u User) bool { return slices.Contains(u.Groups, GroupMasters) }

// forbiddenSanitizer escapes the characters the Kubernetes apiserver escapes in
// the user-controlled parts of a 403 message.
var forbiddenSanitizer = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;")

// ForbiddenMessage returns the message Kubernetes puts in the 403 response for
// a request that authorization refused:
//
//	User "jane" cannot list resource "pods" in API group "" in the namespace "default"
//	User "jane" cannot get resource "nodes/status" in API group "" at the cluster scope
//	User "jane" cannot get path "/metrics"
//
// with &, < and > HTML-escaped. Authorize returns it as its reason on refusal;
// callers that refuse a request for other reasons can use it directly.
func ForbiddenMessage(attr Attributes) string {
	var msg string
	switch {
	case !attr.ResourceRequest:
		msg = fmt.Sprintf("User %q cannot %s path %q", attr.User.Name, attr.Verb, attr.Path)
	default:
		resource := attr.Resource
		if attr.Subresource != "" {
			resource += "/" + attr.Subresource
		}
		if attr.Namespace != "" {
			msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q",
				attr.User.Name, attr.Verb, resource, attr.APIGroup, attr.Namespace)
		} else {
			msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope",
				attr.User.Name, attr.Verb, resource, attr.APIGroup)
		}
	}
	return forbiddenSanitizer.Replace(msg)
}
