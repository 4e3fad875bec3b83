package rbac_test

import (
	"context"
	"errors"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
)

// escalationFixture is the policy the write checks run against.
//
//   - ann is admin of dev (the bootstrap admin role in a RoleBinding);
//   - ops may read pods everywhere;
//   - esc may escalate roles in dev; cesc may escalate every clusterrole; nesc
//     may escalate the clusterrole "special";
//   - bindy may bind the clusterrole cluster-admin in dev; binder may bind any
//     clusterrole cluster-wide;
//   - jane has a binding in qa whose role is missing;
//   - root is cluster-admin.
func escalationFixture() *rbac.Authorizer {
	return rbac.New(withBootstrap(
		roleBinding("dev", "ann-admin", "ClusterRole", "admin", userSubject("ann")),
		role("dev", "pod-reader", rule("get,list", "", "pods")),

		clusterRole("pod-reader-all", rule("get", "", "pods")),
		clusterRoleBinding("ops-pods", "pod-reader-all", userSubject("ops")),

		clusterRole("escalate-roles", rule("escalate", "rbac.authorization.k8s.io", "roles")),
		roleBinding("dev", "esc", "ClusterRole", "escalate-roles", userSubject("esc")),
		clusterRole("escalate-clusterroles", rule("escalate", "rbac.authorization.k8s.io", "clusterroles")),
		clusterRoleBinding("cesc", "escalate-clusterroles", userSubject("cesc")),
		clusterRole("escalate-special", namedRule("escalate", "rbac.authorization.k8s.io", "clusterroles", "special")),
		clusterRoleBinding("nesc", "escalate-special", userSubject("nesc")),

		clusterRole("bind-cluster-admin", namedRule("bind", "rbac.authorization.k8s.io", "clusterroles", "cluster-admin")),
		roleBinding("dev", "bindy", "ClusterRole", "bind-cluster-admin", userSubject("bindy")),
		clusterRole("bind-any", rule("bind", "rbac.authorization.k8s.io", "clusterroles")),
		clusterRoleBinding("binder", "bind-any", userSubject("binder")),

		clusterRole("config-named", namedRule("get", "", "configmaps", "app-config")),
		clusterRoleBinding("cfg", "config-named", userSubject("cfg")),
		clusterRole("status-and-logs", rule("get", "*", "*/status"), urlRule("get", "/logs/*")),
		clusterRoleBinding("stl", "status-and-logs", userSubject("stl")),

		roleBinding("qa", "broken", "Role", "ghost", userSubject("jane")),
		clusterRoleBinding("root-admin", "cluster-admin", userSubject("root")),
	))
}

// checkErr compares an error with the wanted sentinel (nil for success) and,
// when wantMsg is set, with the wanted message.
func checkErr(t *testing.T, call string, err, want error, wantMsg string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s = %v; want nil", call, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s = %v; want an error matching %v", call, err, want)
	case want != nil && wantMsg != "" && err.Error() != wantMsg:
		t.Errorf("%s = %q; want %q", call, err.Error(), wantMsg)
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	t.Parallel()
	a := escalationFixture()
	tests := []struct {
		name      string
		user      rbac.User
		namespace string
		rules     []rbacv1.PolicyRule
		want      error
		wantMsg   string
	}{
		{name: "admin grants what edit holds", user: human("ann"), namespace: "dev",
			rules: []rbacv1.PolicyRule{rule("get,list,create,delete", "", "pods"), rule("get", "", "secrets")}},
		{name: "admin grants the aggregated view", user: human("ann"), namespace: "dev",
			rules: []rbacv1.PolicyRule{rule("get", "apps", "deployments/scale"), rule("list", "batch", "jobs/status")}},
		{name: "admin cannot grant nodes", user: human("ann"), namespace: "dev",
			rules: []rbacv1.PolicyRule{rule("get", "", "nodes")}, want: rbac.ErrEscalation,
			wantMsg: "user \"ann\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}`},
		{name: "admin of dev holds nothing in prod", user: human("ann"), namespace: "prod",
			rules: []rbacv1.PolicyRule{rule("get,list", "", "pods")}, want: rbac.ErrEscalation,
			wantMsg: "user \"ann\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}`},
		{name: "missing permissions are compacted and sorted", user: human("ann"), namespace: "dev",
			rules: []rbacv1.PolicyRule{
				urlRule("get", "/metrics"),
				rule("get,update,delete", "", "resourcequotas"),
				namedRule("update", "", "limitranges", "a,b"),
			}, want: rbac.ErrEscalation,
			wantMsg: "user \"ann\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["limitranges"], ResourceNames:["a"], Verbs:["update"]}` + "\n" +
				`{APIGroups:[""], Resources:["limitranges"], ResourceNames:["b"], Verbs:["update"]}` + "\n" +
				`{APIGroups:[""], Resources:["resourcequotas"], Verbs:["update" "delete"]}` + "\n" +
				`{NonResourceURLs:["/metrics"], Verbs:["get"]}`},
		{name: "named permission covers the name", user: human("cfg"), namespace: "",
			rules: []rbacv1.PolicyRule{namedRule("get", "", "configmaps", "app-config")}},
		{name: "named permission does not cover all names", user: human("cfg"), namespace: "",
			rules: []rbacv1.PolicyRule{rule("get", "", "configmaps")}, want: rbac.ErrEscalation},
		{name: "named permission does not cover other names", user: human("cfg"), namespace: "",
			rules: []rbacv1.PolicyRule{namedRule("get", "", "configmaps", "app-config,other")}, want: rbac.ErrEscalation,
			wantMsg: "user \"cfg\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["configmaps"], ResourceNames:["other"], Verbs:["get"]}`},
		{name: "*/status covers a status subresource", user: human("stl"), namespace: "",
			rules: []rbacv1.PolicyRule{rule("get", "apps", "deployments/status")}},
		{name: "*/status does not cover the resource", user: human("stl"), namespace: "",
			rules: []rbacv1.PolicyRule{rule("get", "apps", "deployments")}, want: rbac.ErrEscalation},
		{name: "URL prefix covers longer URLs", user: human("stl"), namespace: "",
			rules: []rbacv1.PolicyRule{urlRule("get", "/logs/kubelet,/logs/a/*")}},
		{name: "URL prefix does not cover other URLs", user: human("stl"), namespace: "",
			rules: []rbacv1.PolicyRule{urlRule("get", "/logs")}, want: rbac.ErrEscalation},
		{name: "cluster-wide grants cover namespaces", user: human("ops"), namespace: "prod",
			rules: []rbacv1.PolicyRule{rule("get", "", "pods")}},
		{name: "masters may grant anything", user: rbac.User{Name: "x", Groups: []string{rbac.GroupMasters}}, namespace: "",
			rules: []rbacv1.PolicyRule{rule("*", "*", "*"), urlRule("*", "*")}},
		{name: "resolution errors are reported", user: human("jane"), namespace: "qa",
			rules: []rbacv1.PolicyRule{rule("get", "", "pods")}, want: rbac.ErrEscalation,
			wantMsg: "user \"jane\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get"]}; resolution errors: [role.rbac.authorization.k8s.io "ghost" not found]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.ConfirmNoEscalation(context.Background(), tt.user, tt.namespace, tt.rules)
			checkErr(t, "ConfirmNoEscalation("+tt.user.Name+", "+tt.namespace+")", err, tt.want, tt.wantMsg)
			if err != nil && !errors.Is(err, rbac.ErrForbidden) {
				t.Errorf("ConfirmNoEscalation error %v does not match ErrForbidden", err)
			}
		})
	}
}

func TestCheckRole(t *testing.T) {
	t.Parallel()
	a := escalationFixture()
	nodeRole := role("dev", "node-reader", rule("get", "", "nodes"))
	gcEdited := nodeRole.DeepCopy()
	gcEdited.Finalizers = []string{"example.com/keep"}
	gcEdited.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "u1"}}
	gcEdited.ResourceVersion = "42"
	relabelled := nodeRole.DeepCopy()
	relabelled.Labels = map[string]string{"team": "a"}
	tests := []struct {
		name      string
		user      rbac.User
		role, old *rbacv1.Role
		want      error
	}{
		{name: "create within held permissions", user: human("ann"), role: role("dev", "r", rule("get", "", "pods"))},
		{name: "create beyond held permissions", user: human("ann"), role: nodeRole, want: rbac.ErrEscalation},
		{name: "update beyond held permissions", user: human("ann"), role: relabelled, old: nodeRole, want: rbac.ErrEscalation},
		{name: "escalate verb allows", user: human("esc"), role: nodeRole},
		{name: "escalate verb is namespaced", user: human("esc"), role: role("prod", "node-reader", rule("get", "", "nodes")), want: rbac.ErrEscalation},
		{name: "masters may", user: human("root", rbac.GroupMasters), role: nodeRole},
		{name: "garbage collector edits are not checked", user: human("ann"), role: gcEdited, old: nodeRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.CheckRole(context.Background(), tt.user, tt.role, tt.old)
			checkErr(t, "CheckRole("+tt.user.Name+", "+tt.role.Namespace+"/"+tt.role.Name+")", err, tt.want, "")
		})
	}
}

func TestCheckClusterRole(t *testing.T) {
	t.Parallel()
	a := escalationFixture()
	podReader := clusterRole("pods", rule("get", "", "pods"))
	aggregated := aggregating(clusterRole("pods"), "example.com/aggregate-to-pods")
	special := clusterRole("special", rule("get", "", "nodes"))
	tests := []struct {
		name      string
		user      rbac.User
		role, old *rbacv1.ClusterRole
		want      error
		wantMsg   string
	}{
		{name: "create within held permissions", user: human("ops"), role: podReader},
		{name: "namespace admin holds nothing cluster-wide", user: human("ann"), role: podReader, want: rbac.ErrEscalation},
		{name: "aggregation needs full authority", user: human("ops"), role: aggregated, want: rbac.ErrEscalation,
			wantMsg: "must have cluster-admin privileges to use the aggregationRule"},
		{name: "removing aggregation needs full authority", user: human("ops"), role: podReader, old: aggregated, want: rbac.ErrEscalation,
			wantMsg: "must have cluster-admin privileges to use the aggregationRule"},
		{name: "cluster-admin may aggregate", user: human("root"), role: aggregated},
		{name: "escalate verb allows aggregation", user: human("cesc"), role: aggregated},
		{name: "named escalate allows updating that role", user: human("nesc"), role: special, old: clusterRole("special")},
		{name: "named escalate does not allow creating it", user: human("nesc"), role: special, want: rbac.ErrEscalation},
		{name: "masters may", user: human("root", rbac.GroupMasters), role: aggregated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.CheckClusterRole(context.Background(), tt.user, tt.role, tt.old)
			checkErr(t, "CheckClusterRole("+tt.user.Name+", "+tt.role.Name+")", err, tt.want, tt.wantMsg)
		})
	}
}

func TestCanBind(t *testing.T) {
	t.Parallel()
	a := escalationFixture()
	tests := []struct {
		name      string
		user      rbac.User
		ref       rbacv1.RoleRef
		namespace string
		want      error
		wantMsg   string
	}{
		{name: "holding the role's permissions", user: human("ann"), ref: roleRef("ClusterRole", "view"), namespace: "dev"},
		{name: "holding a namespace role's permissions", user: human("ann"), ref: roleRef("Role", "pod-reader"), namespace: "dev"},
		{name: "not holding the role's permissions", user: human("ann"), ref: roleRef("ClusterRole", "cluster-admin"), namespace: "dev",
			want: rbac.ErrEscalation,
			wantMsg: "user \"ann\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}` + "\n" + `{NonResourceURLs:["*"], Verbs:["*"]}`},
		{name: "bind verb on the role name", user: human("bindy"), ref: roleRef("ClusterRole", "cluster-admin"), namespace: "dev"},
		{name: "bind verb is namespaced", user: human("bindy"), ref: roleRef("ClusterRole", "cluster-admin"), namespace: "prod", want: rbac.ErrEscalation},
		{name: "namespaced bind does not allow cluster bindings", user: human("bindy"), ref: roleRef("ClusterRole", "cluster-admin"), namespace: "", want: rbac.ErrEscalation},
		{name: "bind verb on the role name only", user: human("bindy"), ref: roleRef("ClusterRole", "escalate-roles"), namespace: "dev", want: rbac.ErrEscalation},
		{name: "cluster-wide bind verb", user: human("binder"), ref: roleRef("ClusterRole", "cluster-admin"), namespace: ""},
		{name: "bind verb allows a missing role", user: human("binder"), ref: roleRef("ClusterRole", "ghost"), namespace: "dev"},
		{name: "missing cluster role", user: human("ann"), ref: roleRef("ClusterRole", "ghost"), namespace: "dev",
			want: rbac.ErrRoleNotFound, wantMsg: `clusterroles.rbac.authorization.k8s.io "ghost" not found`},
		{name: "missing role", user: human("ann"), ref: roleRef("Role", "ghost"), namespace: "dev",
			want: rbac.ErrRoleNotFound, wantMsg: `roles.rbac.authorization.k8s.io "ghost" not found`},
		{name: "unsupported kind", user: human("ann"), ref: roleRef("Policy", "p"), namespace: "dev", want: rbac.ErrUnsupportedRoleRef},
		{name: "masters may", user: human("x", rbac.GroupMasters), ref: roleRef("ClusterRole", "ghost"), namespace: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.CanBind(context.Background(), tt.user, tt.ref, tt.namespace)
			checkErr(t, "CanBind("+tt.user.Name+", "+tt.ref.Kind+"/"+tt.ref.Name+", "+tt.namespace+")", err, tt.want, tt.wantMsg)
		})
	}
}

func TestCanBindNotFoundError(t *testing.T) {
	t.Parallel()
	err := escalationFixture().CanBind(context.Background(), human("ann"), roleRef("ClusterRole", "ghost"), "dev")
	var nf *rbac.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("CanBind(missing role) = %v; want a *NotFoundError", err)
	}
	want := rbac.NotFoundError{Resource: schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, Name: "ghost"}
	if *nf != want {
		t.Errorf("CanBind(missing role) = %+v; want %+v", *nf, want)
	}
}

func TestCheckBindings(t *testing.T) {
	t.Parallel()
	a := escalationFixture()
	adminBinding := roleBinding("dev", "b", "ClusterRole", "cluster-admin", userSubject("mallory"))
	gcEdited := adminBinding.DeepCopy()
	gcEdited.Finalizers = []string{"example.com/keep"}
	moreSubjects := adminBinding.DeepCopy()
	moreSubjects.Subjects = append(moreSubjects.Subjects, userSubject("eve"))

	rbTests := []struct {
		name    string
		user    rbac.User
		rb, old *rbacv1.RoleBinding
		want    error
	}{
		{name: "binding a role the user holds", user: human("ann"), rb: roleBinding("dev", "b", "ClusterRole", "edit", userSubject("x"))},
		{name: "binding a role the user does not hold", user: human("ann"), rb: adminBinding, want: rbac.ErrEscalation},
		{name: "adding subjects is checked", user: human("ann"), rb: moreSubjects, old: adminBinding, want: rbac.ErrEscalation},
		{name: "garbage collector edits are not checked", user: human("ann"), rb: gcEdited, old: adminBinding},
		{name: "bind verb", user: human("bindy"), rb: adminBinding},
		{name: "masters may", user: human("x", rbac.GroupMasters), rb: adminBinding},
	}
	for _, tt := range rbTests {
		t.Run("RoleBinding/"+tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.CheckRoleBinding(context.Background(), tt.user, tt.rb, tt.old)
			checkErr(t, "CheckRoleBinding("+tt.user.Name+", "+tt.rb.Name+")", err, tt.want, "")
		})
	}

	crbTests := []struct {
		name     string
		user     rbac.User
		crb, old *rbacv1.ClusterRoleBinding
		want     error
	}{
		{name: "namespace admin cannot bind cluster-wide", user: human("ann"), crb: clusterRoleBinding("b", "view", userSubject("x")), want: rbac.ErrEscalation},
		{name: "holding the role cluster-wide", user: human("ops"), crb: clusterRoleBinding("b", "pod-reader-all", userSubject("x"))},
		{name: "namespaced bind verb does not allow", user: human("bindy"), crb: clusterRoleBinding("b", "cluster-admin", userSubject("x")), want: rbac.ErrEscalation},
		{name: "cluster-wide bind verb", user: human("binder"), crb: clusterRoleBinding("b", "cluster-admin", userSubject("x"))},
		{name: "masters may", user: human("x", rbac.GroupMasters), crb: clusterRoleBinding("b", "cluster-admin", userSubject("x"))},
	}
	for _, tt := range crbTests {
		t.Run("ClusterRoleBinding/"+tt.name, func(t *testing.T) {
			t.Parallel()
			err := a.CheckClusterRoleBinding(context.Background(), tt.user, tt.crb, tt.old)
			checkErr(t, "CheckClusterRoleBinding("+tt.user.Name+", "+tt.crb.Name+")", err, tt.want, "")
		})
	}
}
