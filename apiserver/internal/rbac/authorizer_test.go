package rbac_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/internal/rbac/rbactest"
)

// authzFixture is the policy the Authorize tests run against: the bootstrap
// policy plus one grant per feature under test.
func authzFixture() *rbactest.Source {
	return withBootstrap(
		// cluster-admin bound to a user by name.
		clusterRoleBinding("root-admin", "cluster-admin", userSubject("root")),

		// A Role and RoleBinding granting get/list pods in dev.
		role("dev", "pod-reader", rule("get,list", "", "pods")),
		roleBinding("dev", "read-pods", "Role", "pod-reader", userSubject("jane")),

		// A ClusterRole bound in one namespace only.
		clusterRole("secret-reader", rule("get", "", "secrets")),
		roleBinding("dev", "read-secrets", "ClusterRole", "secret-reader", userSubject("bob")),

		// resourceNames.
		clusterRole("app-config-reader", namedRule("get,update", "", "configmaps", "app-config,app-flags")),
		clusterRoleBinding("carol-config", "app-config-reader", userSubject("carol")),

		// Subresources.
		clusterRole("logs-and-scale",
			rule("get", "", "pods/log"),
			rule("get,update,patch", "apps", "deployments/scale")),
		clusterRoleBinding("dave-logs-and-scale", "logs-and-scale", userSubject("dave")),
		clusterRole("status-writer", rule("update,patch", "*", "*/status")),
		clusterRoleBinding("eve-status", "status-writer", userSubject("eve")),

		// Wildcards.
		clusterRole("apps-all", rule("*", "apps", "*")),
		clusterRole("jobs-anywhere", rule("get", "*", "jobs")),
		clusterRoleBinding("frank-apps", "apps-all", userSubject("frank")),
		clusterRoleBinding("frank-jobs", "jobs-anywhere", userSubject("frank")),

		// Non-resource URLs.
		clusterRole("metrics-and-logs", urlRule("get", "/metrics,/logs/*,/debug/pprof*")),
		clusterRoleBinding("grace-urls", "metrics-and-logs", userSubject("grace")),

		// Group subjects.
		roleBinding("dev", "devs-view", "ClusterRole", "view", groupSubject("devs")),

		// ServiceAccount subjects.
		roleBinding("ci", "builder-edit", "ClusterRole", "edit", saSubject("", "builder")),
		clusterRole("node-reader", rule("get,list", "", "nodes")),
		clusterRoleBinding("builder-nodes", "node-reader", saSubject("ci", "builder")),
		clusterRoleBinding("nobody-nodes", "node-reader", saSubject("", "deployer")),
		clusterRole("cm-lister", rule("list", "", "configmaps")),
		roleBinding("ci", "ci-sas-list-cms", "ClusterRole", "cm-lister", groupSubject("system:serviceaccounts:ci")),
		clusterRole("ns-lister", rule("list", "", "namespaces")),
		clusterRoleBinding("all-sas-list-ns", "ns-lister", groupSubject(rbac.GroupServiceAccounts)),

		// Bindings whose roles do not exist.
		roleBinding("qa", "broken", "Role", "ghost", userSubject("jane")),
		roleBinding("qa", "broken-cluster", "ClusterRole", "ghost-cluster", userSubject("jane")),
	)
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	jane := human("jane")
	bob := human("bob")
	builder := rbac.ServiceAccountUser("ci", "builder", "uid-1")
	deployer := rbac.ServiceAccountUser("ci", "deployer", "uid-2")
	tests := []struct {
		name   string
		attr   rbac.Attributes
		want   bool
		reason string // exact; "" skips the comparison
	}{
		// system:masters and cluster-admin.
		{name: "masters group allows anything", attr: resource(human("admin", rbac.GroupMasters), "delete", "", "nodes", "", "", "n1"), want: true,
			reason: `RBAC: allowed by membership in group "system:masters"`},
		{name: "masters group allows any path", attr: path(human("admin", rbac.GroupMasters), "post", "/anything"), want: true},
		{name: "cluster-admin binding allows resources", attr: resource(human("root"), "deletecollection", "apps", "deployments", "", "prod", ""), want: true,
			reason: `RBAC: allowed by ClusterRoleBinding "root-admin" of ClusterRole "cluster-admin" to User "root"`},
		{name: "cluster-admin binding allows paths", attr: path(human("root"), "put", "/logs/x"), want: true},

		// Role + RoleBinding.
		{name: "role grants get pods in its namespace", attr: resource(jane, "get", "", "pods", "", "dev", "web-1"), want: true,
			reason: `RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to User "jane"`},
		{name: "role grants list pods in its namespace", attr: resource(jane, "list", "", "pods", "", "dev", ""), want: true},
		{name: "role does not grant other verbs", attr: resource(jane, "delete", "", "pods", "", "dev", "web-1"), want: false,
			reason: `User "jane" cannot delete resource "pods" in API group "" in the namespace "dev"`},
		{name: "role does not apply in another namespace", attr: resource(jane, "list", "", "pods", "", "prod", ""), want: false,
			reason: `User "jane" cannot list resource "pods" in API group "" in the namespace "prod"`},
		{name: "role does not apply across namespaces", attr: resource(jane, "list", "", "pods", "", "", ""), want: false,
			reason: `User "jane" cannot list resource "pods" in API group "" at the cluster scope`},
		{name: "role does not grant subresources", attr: resource(jane, "get", "", "pods", "log", "dev", "web-1"), want: false,
			reason: `User "jane" cannot get resource "pods/log" in API group "" in the namespace "dev"`},
		{name: "role does not grant other users", attr: resource(bob, "get", "", "pods", "", "dev", "web-1"), want: false},

		// ClusterRole bound by a RoleBinding.
		{name: "clusterrole in rolebinding grants in that namespace", attr: resource(bob, "get", "", "secrets", "", "dev", "tls"), want: true,
			reason: `RBAC: allowed by RoleBinding "read-secrets/dev" of ClusterRole "secret-reader" to User "bob"`},
		{name: "clusterrole in rolebinding does not grant elsewhere", attr: resource(bob, "get", "", "secrets", "", "prod", "tls"), want: false},
		{name: "clusterrole in rolebinding does not grant cluster-wide", attr: resource(bob, "get", "", "secrets", "", "", ""), want: false},

		// resourceNames.
		{name: "resourceNames allow a listed name", attr: resource(human("carol"), "get", "", "configmaps", "", "dev", "app-flags"), want: true},
		{name: "resourceNames refuse another name", attr: resource(human("carol"), "get", "", "configmaps", "", "dev", "other"), want: false},
		{name: "resourceNames refuse list", attr: resource(human("carol"), "list", "", "configmaps", "", "dev", ""), want: false},
		{name: "resourceNames refuse create", attr: resource(human("carol"), "create", "", "configmaps", "", "dev", ""), want: false},

		// Subresources.
		{name: "pods/log", attr: resource(human("dave"), "get", "", "pods", "log", "dev", "web-1"), want: true},
		{name: "pods/log does not grant pods", attr: resource(human("dave"), "get", "", "pods", "", "dev", "web-1"), want: false},
		{name: "deployments/scale", attr: resource(human("dave"), "patch", "apps", "deployments", "scale", "dev", "web"), want: true},
		{name: "deployments/scale is per group", attr: resource(human("dave"), "patch", "extensions", "deployments", "scale", "dev", "web"), want: false,
			reason: `User "dave" cannot patch resource "deployments/scale" in API group "extensions" in the namespace "dev"`},
		{name: "*/status matches any status", attr: resource(human("eve"), "update", "apps", "deployments", "status", "dev", "web"), want: true},
		{name: "*/status matches core status", attr: resource(human("eve"), "patch", "", "nodes", "status", "", "n1"), want: true},
		{name: "*/status does not match the resource", attr: resource(human("eve"), "update", "apps", "deployments", "", "dev", "web"), want: false},
		{name: "*/status does not match other subresources", attr: resource(human("eve"), "update", "apps", "deployments", "scale", "dev", "web"), want: false},

		// Wildcards.
		{name: "wildcard verbs and resources in a group", attr: resource(human("frank"), "escalate", "apps", "statefulsets", "", "dev", "db"), want: true},
		{name: "wildcard resources include subresources", attr: resource(human("frank"), "update", "apps", "deployments", "scale", "dev", "web"), want: true},
		{name: "wildcard resources stay in their group", attr: resource(human("frank"), "get", "batch", "cronjobs", "", "dev", "c"), want: false},
		{name: "wildcard group", attr: resource(human("frank"), "get", "batch", "jobs", "", "dev", "j"), want: true},
		{name: "wildcard group with another verb", attr: resource(human("frank"), "delete", "batch", "jobs", "", "dev", "j"), want: false},

		// Non-resource URLs.
		{name: "exact URL", attr: path(human("grace"), "get", "/metrics"), want: true},
		{name: "exact URL is exact", attr: path(human("grace"), "get", "/metrics/slis"), want: false,
			reason: `User "grace" cannot get path "/metrics/slis"`},
		{name: "star suffix matches below", attr: path(human("grace"), "get", "/logs/kubelet.log"), want: true},
		{name: "star suffix needs its prefix", attr: path(human("grace"), "get", "/logs"), want: false},
		{name: "star suffix is a plain prefix", attr: path(human("grace"), "get", "/debug/pprofile"), want: true},
		{name: "URL rules check the verb", attr: path(human("grace"), "post", "/metrics"), want: false},
		{name: "URL rules do not grant resources", attr: resource(human("grace"), "get", "", "metrics", "", "", ""), want: false},

		// Bootstrap discovery roles.
		{name: "authenticated discovery", attr: path(jane, "get", "/apis/apps/v1"), want: true,
			reason: `RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"`},
		{name: "authenticated openapi", attr: path(jane, "get", "/openapi/v3/apis/apps/v1"), want: true},
		{name: "anonymous version", attr: path(anonymous, "get", "/version"), want: true},
		{name: "anonymous healthz", attr: path(anonymous, "get", "/healthz"), want: true},
		{name: "anonymous discovery refused", attr: path(anonymous, "get", "/api"), want: false,
			reason: `User "system:anonymous" cannot get path "/api"`},
		{name: "anonymous resources refused", attr: resource(anonymous, "list", "", "pods", "", "default", ""), want: false,
			reason: `User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"`},
		{name: "self subject access review", attr: resource(jane, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), want: true},

		// Group subjects.
		{name: "group subject", attr: resource(human("kim", "devs"), "list", "apps", "deployments", "", "dev", ""), want: true,
			reason: `RBAC: allowed by RoleBinding "devs-view/dev" of ClusterRole "view" to Group "devs"`},
		{name: "group subject in another namespace", attr: resource(human("kim", "devs"), "list", "apps", "deployments", "", "prod", ""), want: false},
		{name: "group subject needs the group", attr: resource(human("kim"), "list", "apps", "deployments", "", "dev", ""), want: false},

		// ServiceAccount subjects.
		{name: "service account without namespace uses the binding's", attr: resource(builder, "create", "apps", "deployments", "", "ci", ""), want: true,
			reason: `RBAC: allowed by RoleBinding "builder-edit/ci" of ClusterRole "edit" to ServiceAccount "builder/ci"`},
		{name: "service account of another namespace", attr: resource(rbac.ServiceAccountUser("dev", "builder", ""), "create", "apps", "deployments", "", "ci", ""), want: false},
		{name: "service account in a clusterrolebinding", attr: resource(builder, "list", "", "nodes", "", "", ""), want: true,
			reason: `RBAC: allowed by ClusterRoleBinding "builder-nodes" of ClusterRole "node-reader" to ServiceAccount "builder/ci"`},
		{name: "service account without namespace in a clusterrolebinding matches nobody", attr: resource(deployer, "list", "", "nodes", "", "", ""), want: false},
		{name: "user named like a service account is one", attr: resource(rbac.User{Name: "system:serviceaccount:ci:builder"}, "list", "", "nodes", "", "", ""), want: true},
		{name: "namespace service accounts group", attr: resource(deployer, "list", "", "configmaps", "", "ci", ""), want: true,
			reason: `RBAC: allowed by RoleBinding "ci-sas-list-cms/ci" of ClusterRole "cm-lister" to Group "system:serviceaccounts:ci"`},
		{name: "namespace service accounts group elsewhere", attr: resource(deployer, "list", "", "configmaps", "", "dev", ""), want: false},
		{name: "all service accounts group", attr: resource(rbac.ServiceAccountUser("dev", "x", ""), "list", "", "namespaces", "", "", ""), want: true},

		// Unresolvable bindings.
		{name: "missing roles are reported", attr: resource(jane, "get", "", "pods", "", "qa", "p"), want: false,
			reason: `User "jane" cannot get resource "pods" in API group "" in the namespace "qa": RBAC: [role.rbac.authorization.k8s.io "ghost" not found, clusterrole.rbac.authorization.k8s.io "ghost-cluster" not found]`},

		// Message escaping.
		{name: "paths are escaped in messages", attr: path(anonymous, "get", "/<script>&"), want: false,
			reason: `User "system:anonymous" cannot get path "/&lt;script&gt;&amp;"`},
	}
	a := rbac.New(authzFixture())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason, err := a.Authorize(context.Background(), tt.attr)
			if err != nil {
				t.Fatalf("Authorize(%+v) error: %v", tt.attr, err)
			}
			if got != tt.want {
				t.Errorf("Authorize(%+v) = %v (%s); want %v", tt.attr, got, reason, tt.want)
			}
			if tt.reason != "" && reason != tt.reason {
				t.Errorf("Authorize(%+v) reason = %q; want %q", tt.attr, reason, tt.reason)
			}
		})
	}
}

func TestAuthorizeSourceErrors(t *testing.T) {
	t.Parallel()
	src := withBootstrap(role("dev", "pod-reader", rule("get", "", "pods")),
		roleBinding("dev", "read-pods", "Role", "pod-reader", userSubject("jane")))
	src.SetError(errors.New("store unavailable"))
	a := rbac.New(src)

	attr := resource(human("jane"), "get", "", "pods", "", "dev", "p")
	got, reason, err := a.Authorize(context.Background(), attr)
	want := `User "jane" cannot get resource "pods" in API group "" in the namespace "dev": RBAC: store unavailable`
	if got || err != nil || reason != want {
		t.Errorf("Authorize(%+v) = %v, %q, %v; want false, %q, nil", attr, got, reason, err, want)
	}

	// Masters never depend on the source.
	attr.User = human("admin", rbac.GroupMasters)
	if got, _, err := a.Authorize(context.Background(), attr); !got || err != nil {
		t.Errorf("Authorize(%+v) = %v, %v; want true, nil", attr, got, err)
	}
}

func TestAuthorizeCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	attr := path(human("admin", rbac.GroupMasters), "get", "/version")
	got, _, err := rbac.New(rbactest.NewSource()).Authorize(ctx, attr)
	if got || !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize(canceled ctx) = %v, %v; want false, context.Canceled", got, err)
	}
}

func TestRulesFor(t *testing.T) {
	t.Parallel()
	src := rbactest.NewSource(
		clusterRole("node-reader", rule("get", "", "nodes")),
		clusterRoleBinding("jane-nodes", "node-reader", userSubject("jane")),
		role("dev", "pod-reader", rule("get,list", "", "pods")),
		roleBinding("dev", "read-pods", "Role", "pod-reader", userSubject("jane")),
		roleBinding("dev", "broken", "Role", "ghost", userSubject("jane")),
	)
	a := rbac.New(src)
	tests := []struct {
		name      string
		namespace string
		want      []string
		wantErr   string
	}{
		{name: "cluster-wide", namespace: "", want: []string{`{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`}},
		{name: "namespace adds role bindings", namespace: "dev",
			want:    []string{`{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`, `{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`},
			wantErr: `role.rbac.authorization.k8s.io "ghost" not found`},
		{name: "other namespace", namespace: "prod", want: []string{`{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules, err := a.RulesFor(context.Background(), human("jane"), tt.namespace)
			var got []string
			for _, r := range rules {
				got = append(got, fmt.Sprintf("{APIGroups:%q, Resources:%q, Verbs:%q}", r.APIGroups, r.Resources, r.Verbs))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("RulesFor(jane, %q) = %v; want %v", tt.namespace, got, tt.want)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("RulesFor(jane, %q) error = %q; want %q", tt.namespace, gotErr, tt.wantErr)
			}
		})
	}
}

// TestAuthorizeConcurrent checks, under -race, that authorization may run while
// the source changes.
func TestAuthorizeConcurrent(t *testing.T) {
	t.Parallel()
	src := withBootstrap(clusterRole("pod-reader", rule("get", "", "pods")))
	a := rbac.New(src)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				attr := resource(human(fmt.Sprintf("u%d", j)), "get", "", "pods", "", "dev", "p")
				if _, _, err := a.Authorize(context.Background(), attr); err != nil {
					t.Errorf("Authorize(%+v) error: %v", attr, err)
					return
				}
				if i == 0 {
					src.Add(clusterRoleBinding(fmt.Sprintf("b%d", j), "pod-reader", userSubject(fmt.Sprintf("u%d", j))))
				}
			}
		}()
	}
	wg.Wait()
	attr := resource(human("u49"), "get", "", "pods", "", "dev", "p")
	if got, reason, _ := a.Authorize(context.Background(), attr); !got {
		t.Errorf("Authorize(%+v) = false (%s); want true once the binding exists", attr, reason)
	}
}

func TestForbiddenMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		attr rbac.Attributes
		want string
	}{
		{name: "namespaced", attr: resource(human("jane"), "list", "", "pods", "", "default", ""),
			want: `User "jane" cannot list resource "pods" in API group "" in the namespace "default"`},
		{name: "cluster scope with group and subresource", attr: resource(human("jane"), "update", "apps", "deployments", "scale", "", "web"),
			want: `User "jane" cannot update resource "deployments/scale" in API group "apps" at the cluster scope`},
		{name: "path", attr: path(human("jane"), "get", "/metrics"), want: `User "jane" cannot get path "/metrics"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := rbac.ForbiddenMessage(tt.attr); got != tt.want {
				t.Errorf("ForbiddenMessage(%+v) = %q; want %q", tt.attr, got, tt.want)
			}
		})
	}
}

func TestIdentities(t *testing.T) {
	t.Parallel()
	sa := rbac.ServiceAccountUser("ci", "builder", "u1")
	if want := "system:serviceaccount:ci:builder"; sa.Name != want {
		t.Errorf("ServiceAccountUser(ci, builder).Name = %q; want %q", sa.Name, want)
	}
	if want := fmt.Sprint([]string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}); fmt.Sprint(sa.Groups) != want {
		t.Errorf("ServiceAccountUser(ci, builder).Groups = %v; want %v", sa.Groups, want)
	}

	tests := []struct {
		name     string
		user     rbac.User
		wantName string
		wantNode bool
	}{
		{name: "node", user: rbac.User{Name: "system:node:n1", Groups: []string{rbac.GroupNodes}}, wantName: "n1", wantNode: true},
		{name: "node without a name", user: rbac.User{Name: "system:node:", Groups: []string{rbac.GroupNodes}}, wantName: "", wantNode: true},
		{name: "name without the group", user: rbac.User{Name: "system:node:n1"}, wantNode: false},
		{name: "group without the name", user: rbac.User{Name: "n1", Groups: []string{rbac.GroupNodes}}, wantNode: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, isNode := rbac.NodeIdentity(tt.user)
			if name != tt.wantName || isNode != tt.wantNode {
				t.Errorf("NodeIdentity(%+v) = %q, %v; want %q, %v", tt.user, name, isNode, tt.wantName, tt.wantNode)
			}
		})
	}
}

// BenchmarkAuthorize measures a namespaced request allowed by a RoleBinding,
// checked after the bootstrap ClusterRoleBindings and 100 unrelated ones.
func BenchmarkAuthorize(b *testing.B) {
	src := withBootstrap(
		role("dev", "pod-reader", rule("get,list", "", "pods")),
		roleBinding("dev", "read-pods", "Role", "pod-reader", userSubject("jane")),
		clusterRole("node-reader", rule("get", "", "nodes")),
	)
	for i := range 100 {
		src.Add(clusterRoleBinding(fmt.Sprintf("other-%d", i), "node-reader", userSubject(fmt.Sprintf("user-%d", i))))
	}
	a := rbac.New(src)
	attr := resource(human("jane"), "get", "", "pods", "", "dev", "web-1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _ := a.Authorize(ctx, attr); !ok {
			b.Fatal("Authorize = false; want true")
		}
	}
}
