package rbac_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
)

var update = flag.Bool("update", false, "rewrite testdata/bootstrap-policy.yaml")

// authorize calls a.Authorize with a background context.
func authorize(a *rbac.Authorizer, attr rbac.Attributes) (bool, string, error) {
	return a.Authorize(context.Background(), attr)
}

// TestBootstrapPolicyGolden pins the bootstrap policy; run with -update to
// rewrite testdata/bootstrap-policy.yaml after a deliberate change, and review
// the diff.
func TestBootstrapPolicyGolden(t *testing.T) {
	roles, bindings := rbac.BootstrapPolicy()
	got, err := yaml.Marshal(map[string]any{"clusterRoles": roles, "clusterRoleBindings": bindings})
	if err != nil {
		t.Fatalf("yaml.Marshal(BootstrapPolicy()) error: %v", err)
	}
	golden := filepath.Join("testdata", "bootstrap-policy.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading %s (run go test -update to create it): %v", golden, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("BootstrapPolicy() differs from %s (-want +got):\n%s", golden, diff)
	}
}

func TestBootstrapPolicyShape(t *testing.T) {
	t.Parallel()
	roles, bindings := rbac.BootstrapPolicy()
	byName := map[string]*rbacv1.ClusterRole{}
	for _, r := range roles {
		byName[r.Name] = r
		if r.Labels[rbac.BootstrapLabel] != rbac.BootstrapLabelValue || r.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("ClusterRole %s labels %v annotations %v; want the bootstrap label and autoupdate annotation", r.Name, r.Labels, r.Annotations)
		}
	}
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
		"system:public-info-viewer", "system:node", "system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"} {
		if byName[name] == nil {
			t.Errorf("BootstrapPolicy() has no ClusterRole %s", name)
		}
	}
	for _, b := range bindings {
		if byName[b.RoleRef.Name] == nil || b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("ClusterRoleBinding %s refers to %+v; want a bootstrap ClusterRole", b.Name, b.RoleRef)
		}
		if b.Labels[rbac.BootstrapLabel] != rbac.BootstrapLabelValue {
			t.Errorf("ClusterRoleBinding %s labels %v; want the bootstrap label", b.Name, b.Labels)
		}
	}

	// Aggregated roles are returned as the aggregation controller would leave them.
	for _, name := range []string{"admin", "edit", "view"} {
		agg, err := rbac.Aggregate(byName[name], roles)
		if err != nil {
			t.Fatalf("Aggregate(%s) error: %v", name, err)
		}
		if diff := cmp.Diff(byName[name].Rules, agg.Rules); diff != "" {
			t.Errorf("BootstrapPolicy() %s is not aggregated (-returned +aggregated):\n%s", name, diff)
		}
	}

	// Each call returns new objects.
	byName["view"].Rules[0].Verbs[0] = "delete"
	again, _ := rbac.BootstrapPolicy()
	for _, r := range again {
		if r.Name == "view" && r.Rules[0].Verbs[0] == "delete" {
			t.Errorf("BootstrapPolicy() shares objects between calls")
		}
	}
}

// TestBootstrapPolicyGrants checks what the bootstrap roles mean through the
// authorizer.
func TestBootstrapPolicyGrants(t *testing.T) {
	t.Parallel()
	a := rbac.New(withBootstrap(
		roleBinding("dev", "v", "ClusterRole", "view", userSubject("viewer")),
		roleBinding("dev", "e", "ClusterRole", "edit", userSubject("editor")),
		roleBinding("dev", "a", "ClusterRole", "admin", userSubject("admin")),
	))
	viewer, editor, admin := human("viewer"), human("editor"), human("admin")
	node := rbac.User{Name: "system:node:n1", Groups: []string{rbac.GroupNodes, rbac.GroupAuthenticated}}
	proxy := human(rbac.UserKubeProxy)
	monitor := human("prometheus", rbac.GroupMonitoring)
	tests := []struct {
		name string
		attr rbac.Attributes
		want bool
	}{
		{name: "view reads pods", attr: resource(viewer, "list", "", "pods", "", "dev", ""), want: true},
		{name: "view reads pod logs", attr: resource(viewer, "get", "", "pods", "log", "dev", "p"), want: true},
		{name: "view reads deployments/scale", attr: resource(viewer, "get", "apps", "deployments", "scale", "dev", "d"), want: true},
		{name: "view reads endpointslices", attr: resource(viewer, "watch", "discovery.k8s.io", "endpointslices", "", "dev", ""), want: true},
		{name: "view reads jobs", attr: resource(viewer, "get", "batch", "jobs", "", "dev", "j"), want: true},
		{name: "view reads pdbs", attr: resource(viewer, "list", "policy", "poddisruptionbudgets", "", "dev", ""), want: true},
		{name: "view reads hpas", attr: resource(viewer, "list", "autoscaling", "horizontalpodautoscalers", "", "dev", ""), want: true},
		{name: "view reads its namespace", attr: resource(viewer, "get", "", "namespaces", "", "dev", "dev"), want: true},
		{name: "view does not read secrets", attr: resource(viewer, "get", "", "secrets", "", "dev", "s"), want: false},
		{name: "view does not exec", attr: resource(viewer, "create", "", "pods", "exec", "dev", "p"), want: false},
		{name: "view does not write", attr: resource(viewer, "create", "apps", "deployments", "", "dev", ""), want: false},
		{name: "view does not read roles", attr: resource(viewer, "list", "rbac.authorization.k8s.io", "roles", "", "dev", ""), want: false},
		{name: "view does not read leases", attr: resource(viewer, "list", "coordination.k8s.io", "leases", "", "dev", ""), want: false},

		{name: "edit creates deployments", attr: resource(editor, "create", "apps", "deployments", "", "dev", ""), want: true},
		{name: "edit scales deployments", attr: resource(editor, "patch", "apps", "deployments", "scale", "dev", "d"), want: true},
		{name: "edit reads via view", attr: resource(editor, "get", "apps", "deployments", "", "dev", "d"), want: true},
		{name: "edit reads secrets", attr: resource(editor, "get", "", "secrets", "", "dev", "s"), want: true},
		{name: "edit execs", attr: resource(editor, "create", "", "pods", "exec", "dev", "p"), want: true},
		{name: "edit evicts", attr: resource(editor, "create", "", "pods", "eviction", "dev", "p"), want: true},
		{name: "edit writes leases", attr: resource(editor, "update", "coordination.k8s.io", "leases", "", "dev", "l"), want: true},
		{name: "edit writes cronjobs", attr: resource(editor, "delete", "batch", "cronjobs", "", "dev", "c"), want: true},
		{name: "edit does not write endpoints", attr: resource(editor, "create", "", "endpoints", "", "dev", ""), want: false},
		{name: "edit does not write pod status", attr: resource(editor, "update", "", "pods", "status", "dev", "p"), want: false},
		{name: "edit does not write quotas", attr: resource(editor, "update", "", "resourcequotas", "", "dev", "q"), want: false},
		{name: "edit does not write roles", attr: resource(editor, "create", "rbac.authorization.k8s.io", "roles", "", "dev", ""), want: false},

		{name: "admin writes roles", attr: resource(admin, "create", "rbac.authorization.k8s.io", "roles", "", "dev", ""), want: true},
		{name: "admin writes rolebindings", attr: resource(admin, "delete", "rbac.authorization.k8s.io", "rolebindings", "", "dev", "b"), want: true},
		{name: "admin writes deployments via edit", attr: resource(admin, "update", "apps", "deployments", "", "dev", "d"), want: true},
		{name: "admin reads via view", attr: resource(admin, "list", "", "events", "", "dev", ""), want: true},
		{name: "admin does not write clusterroles", attr: resource(admin, "create", "rbac.authorization.k8s.io", "clusterroles", "", "", ""), want: false},
		{name: "admin stays in its namespace", attr: resource(admin, "list", "", "pods", "", "prod", ""), want: false},

		{name: "node registers", attr: resource(node, "create", "", "nodes", "", "", ""), want: true},
		{name: "node updates node status", attr: resource(node, "patch", "", "nodes", "status", "", "n1"), want: true},
		{name: "node updates pod status", attr: resource(node, "update", "", "pods", "status", "dev", "p"), want: true},
		{name: "node deletes pods", attr: resource(node, "delete", "", "pods", "", "dev", "p"), want: true},
		{name: "node watches pods", attr: resource(node, "watch", "", "pods", "", "", ""), want: true},
		{name: "node reads secrets", attr: resource(node, "get", "", "secrets", "", "dev", "s"), want: true},
		{name: "node reads configmaps", attr: resource(node, "list", "", "configmaps", "", "dev", ""), want: true},
		{name: "node reads services", attr: resource(node, "list", "", "services", "", "", ""), want: true},
		{name: "node reads endpoints", attr: resource(node, "get", "", "endpoints", "", "dev", "e"), want: true},
		{name: "node creates events", attr: resource(node, "create", "", "events", "", "dev", ""), want: true},
		{name: "node renews its lease", attr: resource(node, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), want: true},
		{name: "node does not update pods", attr: resource(node, "update", "", "pods", "", "dev", "p"), want: false},
		{name: "node does not delete nodes", attr: resource(node, "delete", "", "nodes", "", "", "n1"), want: false},
		{name: "node does not write secrets", attr: resource(node, "create", "", "secrets", "", "dev", ""), want: false},

		{name: "kube-proxy watches endpointslices", attr: resource(proxy, "watch", "discovery.k8s.io", "endpointslices", "", "", ""), want: true},
		{name: "monitoring reads metrics", attr: path(monitor, "get", "/metrics"), want: true},
		{name: "monitoring reads individual checks", attr: path(monitor, "get", "/readyz/etcd"), want: true},
		{name: "authenticated users do not read metrics", attr: path(viewer, "get", "/metrics"), want: false},
		{name: "authenticated users read /version/", attr: path(viewer, "get", "/version/"), want: true},
		{name: "authenticated users read /openapi/v2", attr: path(viewer, "get", "/openapi/v2"), want: true},
		{name: "anonymous users read /livez", attr: path(anonymous, "get", "/livez"), want: true},
		{name: "anonymous users read /readyz", attr: path(anonymous, "get", "/readyz"), want: true},
		{name: "anonymous users do not read /apis", attr: path(anonymous, "get", "/apis"), want: false},
		{name: "anonymous users do not read /openapi/v3", attr: path(anonymous, "get", "/openapi/v3"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason, err := authorize(a, tt.attr)
			if err != nil || got != tt.want {
				t.Errorf("Authorize(%+v) = %v (%s), %v; want %v", tt.attr, got, reason, err, tt.want)
			}
		})
	}
}
