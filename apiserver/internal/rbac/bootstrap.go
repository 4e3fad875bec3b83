package rbac

import (
	"fmt"
	"slices"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations of the bootstrap policy, as Kubernetes sets them.
const (
	// BootstrapLabel marks every bootstrap role and binding; its value is
	// BootstrapLabelValue.
	BootstrapLabel = "kubernetes.io/bootstrapping"
	// BootstrapLabelValue is the value of BootstrapLabel.
	BootstrapLabelValue = "rbac-defaults"

	// AggregateToAdminLabel, AggregateToEditLabel and AggregateToViewLabel, set
	// to "true" on a ClusterRole, add its rules to admin, edit and view.
	AggregateToAdminLabel = "rbac.authorization.k8s.io/aggregate-to-admin"
	// AggregateToEditLabel adds a ClusterRole's rules to edit (and so to admin).
	AggregateToEditLabel = "rbac.authorization.k8s.io/aggregate-to-edit"
	// AggregateToViewLabel adds a ClusterRole's rules to view (and so to edit and admin).
	AggregateToViewLabel = "rbac.authorization.k8s.io/aggregate-to-view"
)

// Verb sets of the bootstrap roles.
var (
	verbsRead      = []string{"get", "list", "watch"}
	verbsWrite     = []string{"create", "update", "patch", "delete", "deletecollection"}
	verbsReadWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// API groups named by the bootstrap roles. Capstan serves core, apps, batch,
// autoscaling, policy, discovery.k8s.io, rbac.authorization.k8s.io and
// coordination.k8s.io; the roles also carry Kubernetes' rules for groups it
// does not serve (extensions, networking.k8s.io, storage.k8s.io, ...), so that
// a namespace admin holds what it holds in Kubernetes and can, for example,
// create a Role copied from a Kubernetes manifest without being refused as an
// escalation. Rules for groups that are not served match no request.
const (
	groupCore           = ""
	groupApps           = "apps"
	groupAuthentication = "authentication.k8s.io"
	groupAuthorization  = "authorization.k8s.io"
	groupAutoscaling    = "autoscaling"
	groupBatch          = "batch"
	groupCertificates   = "certificates.k8s.io"
	groupCoordination   = "coordination.k8s.io"
	groupDiscovery      = "discovery.k8s.io"
	groupEvents         = "events.k8s.io"
	groupExtensions     = "extensions"
	groupNetworking     = "networking.k8s.io"
	groupNode           = "node.k8s.io"
	groupPolicy         = "policy"
	groupRBAC           = rbacv1.GroupName
	groupStorage        = "storage.k8s.io"
)

// resourceRule returns a rule granting verbs on resources of groups, with its
// lists sorted as Kubernetes stores bootstrap rules.
func resourceRule(verbs []string, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: sorted(verbs), APIGroups: sorted(groups), Resources: sorted(resources)}
}

// urlRule returns a rule granting verbs on non-resource URLs.
func urlRule(verbs []string, urls ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: sorted(verbs), NonResourceURLs: sorted(urls)}
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// groups is a shorthand for a list of API groups.
func groups(g ...string) []string { return g }

// verbs is a shorthand for a list of verbs.
func verbs(v ...string) []string { return v }

// viewRules are the rules of system:aggregate-to-view: read access to the
// objects of a namespace, except secrets and the subresources that run code
// or reach into pods (exec, attach, portforward, proxy).
func viewRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		resourceRule(verbsRead, groups(groupCore), "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
		resourceRule(verbsRead, groups(groupCore), "limitranges", "resourcequotas", "bindings", "events",
			"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
		// Reading namespaces in a RoleBinding's namespace means reading that
		// namespace only; it tells users which namespaces they can use.
		resourceRule(verbsRead, groups(groupCore), "namespaces"),
		resourceRule(verbsRead, groups(groupDiscovery), "endpointslices"),
		resourceRule(verbsRead, groups(groupApps), "controllerrevisions",
			"statefulsets", "statefulsets/status", "statefulsets/scale",
			"daemonsets", "daemonsets/status",
			"deployments", "deployments/status", "deployments/scale",
			"replicasets", "replicasets/status", "replicasets/scale"),
		resourceRule(verbsRead, groups(groupAutoscaling), "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
		resourceRule(verbsRead, groups(groupBatch), "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
		resourceRule(verbsRead, groups(groupExtensions), "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
			"networkpolicies"),
		resourceRule(verbsRead, groups(groupPolicy), "poddisruptionbudgets", "poddisruptionbudgets/status"),
		resourceRule(verbsRead, groups(groupNetworking), "networkpolicies", "ingresses", "ingresses/status"),
	}
}

// editRules are the rules of system:aggregate-to-edit: read access to the
// sensitive objects view leaves out, and write access to the objects of a
// namespace, except roles, bindings, quotas, limits and most status
// subresources.
func editRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		resourceRule(verbsRead, groups(groupCore), "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
		resourceRule(verbs("impersonate"), groups(groupCore), "serviceaccounts"),
		resourceRule(verbsWrite, groups(groupCore), "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
		resourceRule(verbs("create"), groups(groupCore), "pods/eviction"),
		resourceRule(verbsWrite, groups(groupCore), "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
		resourceRule(verbs("create"), groups(groupCore), "serviceaccounts/token"),
		resourceRule(verbsWrite, groups(groupApps),
			"statefulsets", "statefulsets/scale",
			"daemonsets",
			"deployments", "deployments/scale", "deployments/rollback",
			"replicasets", "replicasets/scale"),
		resourceRule(verbsWrite, groups(groupAutoscaling), "horizontalpodautoscalers"),
		resourceRule(verbsWrite, groups(groupBatch), "jobs", "cronjobs"),
		resourceRule(verbsWrite, groups(groupExtensions), "daemonsets",
			"deployments", "deployments/scale", "deployments/rollback", "ingresses",
			"replicasets", "replicasets/scale", "replicationcontrollers/scale",
			"networkpolicies"),
		resourceRule(verbsWrite, groups(groupPolicy), "poddisruptionbudgets"),
		resourceRule(verbsWrite, groups(groupNetworking), "networkpolicies", "ingresses"),
		resourceRule(verbsReadWrite, groups(groupCoordination), "leases"),
	}
}

// adminRules are the rules of system:aggregate-to-admin: managing roles and
// bindings in a namespace (limited, like every RBAC write, by the escalation
// checks) and checking other users' access there.
func adminRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		resourceRule(verbs("create"), groups(groupAuthorization), "localsubjectaccessreviews"),
		resourceRule(verbsReadWrite, groups(groupRBAC), "roles", "rolebindings"),
	}
}

// nodeRules are the rules of system:node, Kubernetes' kubelet role with the
// feature gates of v1.32 at their defaults. RBAC grants them on every object;
// NodeRestriction narrows writes to the node's own Node, Lease and pods.
func nodeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Checking API access; these creates change nothing.
		resourceRule(verbs("create"), groups(groupAuthentication), "tokenreviews"),
		resourceRule(verbs("create"), groups(groupAuthorization), "subjectaccessreviews", "localsubjectaccessreviews"),
		// Service environment variables.
		resourceRule(verbsRead, groups(groupCore), "services"),
		// Registering the Node and reporting its status.
		resourceRule(verbs("create", "get", "list", "watch"), groups(groupCore), "nodes"),
		resourceRule(verbs("update", "patch"), groups(groupCore), "nodes/status"),
		resourceRule(verbs("update", "patch"), groups(groupCore), "nodes"),
		resourceRule(verbs("create", "update", "patch"), groups(groupCore), "events"),
		// Pods to run, mirror pods, graceful deletion and status.
		resourceRule(verbsRead, groups(groupCore), "pods"),
		resourceRule(verbs("create", "delete"), groups(groupCore), "pods"),
		resourceRule(verbs("update", "patch"), groups(groupCore), "pods/status"),
		resourceRule(verbs("create"), groups(groupCore), "pods/eviction"),
		// Volumes and environment from secrets and configmaps.
		resourceRule(verbsRead, groups(groupCore), "secrets", "configmaps"),
		resourceRule(verbs("get"), groups(groupCore), "persistentvolumeclaims", "persistentvolumes"),
		resourceRule(verbs("get"), groups(groupCore), "endpoints"),
		resourceRule(verbs("create", "get", "list", "watch"), groups(groupCertificates), "certificatesigningrequests"),
		// Node heartbeats.
		resourceRule(verbs("get", "create", "update", "patch", "delete"), groups(groupCoordination), "leases"),
		resourceRule(verbs("get"), groups(groupStorage), "volumeattachments"),
		// Service account tokens for the pods of the node.
		resourceRule(verbs("create"), groups(groupCore), "serviceaccounts/token"),
		resourceRule(verbs("get", "update", "patch"), groups(groupCore), "persistentvolumeclaims/status"),
		resourceRule(verbs("get", "watch", "list"), groups(groupStorage), "csidrivers"),
		resourceRule(verbs("get", "create", "update", "patch", "delete"), groups(groupStorage), "csinodes"),
		resourceRule(verbsRead, groups(groupNode), "runtimeclasses"),
	}
}

// BootstrapPolicy returns the ClusterRoles and ClusterRoleBindings Capstan
// creates when a cluster is bootstrapped, following Kubernetes v1.32's
// defaults. Every object carries the label kubernetes.io/bootstrapping:
// rbac-defaults and the annotation rbac.authorization.kubernetes.io/autoupdate:
// "true". Each call returns new objects.
//
// Roles:
//
//   - cluster-admin: every verb on every resource and non-resource URL;
//   - admin, edit, view: the user-facing namespace roles, aggregated (labels
//     rbac.authorization.k8s.io/aggregate-to-{admin,edit,view}) from
//     system:aggregate-to-{admin,edit,view}, with edit labelled to aggregate
//     into admin and view into edit. Their rules are returned already
//     aggregated (see Aggregate);
//   - system:basic-user: self subject access/rules reviews;
//   - system:discovery: get on /api, /apis, /openapi, /version, /healthz,
//     /livez, /readyz (and below for the first three);
//   - system:public-info-viewer: get on /healthz, /livez, /readyz, /version;
//   - system:monitoring: get on /metrics and the health checks with their
//     individual checks;
//   - system:node: Kubernetes' kubelet role (see NodeRestriction);
//   - system:node-proxier: what kube-proxy reads.
//
// Bindings: cluster-admin to the group system:masters; system:basic-user and
// system:discovery to system:authenticated; system:public-info-viewer to
// system:authenticated and system:unauthenticated; system:monitoring to
// system:monitoring; system:node to system:nodes (in Kubernetes this binding
// has no subjects because the Node authorizer grants node access; Capstan has
// none); system:node-proxier to the user system:kube-proxy.
//
// Kubernetes' roles for its own components (kube-scheduler,
// kube-controller-manager, the controllers' service accounts, kube-dns, ...)
// are omitted: Capstan's control plane runs in-process as system:masters.
func BootstrapPolicy() (roles []*rbacv1.ClusterRole, bindings []*rbacv1.ClusterRoleBinding) {
	aggregation := func(label string) *rbacv1.AggregationRule {
		return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}}
	}
	role := func(name string, aggregateTo string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		r := &rbacv1.ClusterRole{ObjectMeta: bootstrapMeta(name), Rules: rules}
		if aggregateTo != "" {
			r.Labels[aggregateTo] = "true"
		}
		return r
	}
	roles = []*rbacv1.ClusterRole{
		role("cluster-admin", "",
			resourceRule(verbs(rbacv1.VerbAll), groups(rbacv1.APIGroupAll), rbacv1.ResourceAll),
			urlRule(verbs(rbacv1.VerbAll), rbacv1.NonResourceAll)),
		role("admin", ""),
		role("edit", AggregateToAdminLabel),
		role("view", AggregateToEditLabel),
		role("system:aggregate-to-admin", AggregateToAdminLabel, adminRules()...),
		role("system:aggregate-to-edit", AggregateToEditLabel, editRules()...),
		role("system:aggregate-to-view", AggregateToViewLabel, viewRules()...),
		role("system:basic-user", "",
			resourceRule(verbs("create"), groups(groupAuthorization), "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			resourceRule(verbs("create"), groups(groupAuthentication), "selfsubjectreviews")),
		role("system:discovery", "",
			urlRule(verbs("get"), "/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")),
		role("system:public-info-viewer", "",
			urlRule(verbs("get"), "/livez", "/readyz", "/healthz", "/version", "/version/")),
		role("system:monitoring", "",
			urlRule(verbs("get"), "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*", "/healthz/*")),
		role("system:node", "", nodeRules()...),
		role("system:node-proxier", "",
			resourceRule(verbs("list", "watch"), groups(groupCore), "services", "endpoints"),
			resourceRule(verbsRead, groups(groupCore), "nodes"),
			resourceRule(verbs("create", "update", "patch"), groups(groupCore, groupEvents), "events"),
			resourceRule(verbs("list", "watch"), groups(groupDiscovery), "endpointslices")),
	}
	roles[1].AggregationRule = aggregation(AggregateToAdminLabel)
	roles[2].AggregationRule = aggregation(AggregateToEditLabel)
	roles[3].AggregationRule = aggregation(AggregateToViewLabel)
	aggregateAll(roles)

	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	userSubject := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
	}
	binding := func(name string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{
			ObjectMeta: bootstrapMeta(name),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjects,
		}
	}
	bindings = []*rbacv1.ClusterRoleBinding{
		binding("cluster-admin", group(GroupMasters)),
		binding("system:basic-user", group(GroupAuthenticated)),
		binding("system:discovery", group(GroupAuthenticated)),
		binding("system:public-info-viewer", group(GroupAuthenticated), group(GroupUnauthenticated)),
		binding("system:monitoring", group(GroupMonitoring)),
		binding("system:node", group(GroupNodes)),
		binding("system:node-proxier", userSubject(UserKubeProxy)),
	}
	return roles, bindings
}

// bootstrapMeta returns the metadata of a bootstrap object named name.
func bootstrapMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{BootstrapLabel: BootstrapLabelValue},
		Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"},
	}
}

// aggregateAll aggregates every role of roles that has an aggregationRule
// until no role changes, as repeated runs of the aggregation controller would.
func aggregateAll(roles []*rbacv1.ClusterRole) {
	for pass := 0; pass <= len(roles); pass++ {
		changed := false
		for i, r := range roles {
			if r.AggregationRule == nil {
				continue
			}
			agg, err := Aggregate(r, roles)
			if err != nil {
				panic(fmt.Sprintf("rbac: bootstrap role %q: %v", r.Name, err)) // static selectors
			}
			if !equality.Semantic.DeepEqual(agg.Rules, r.Rules) {
				roles[i], changed = agg, true
			}
		}
		if !changed {
			return
		}
	}
	panic("rbac: bootstrap aggregation does not converge")
}
