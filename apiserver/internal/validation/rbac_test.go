package validation

import (
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRole(t *testing.T) {
	tests := []struct {
		name  string
		rules []rbacv1.PolicyRule
		want  []want
	}{
		{name: "valid", rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}},
		{name: "no verbs", rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}, want: []want{required("rules[0].verbs")}},
		{name: "no resources", rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}}}, want: []want{required("rules[0].resources")}},
		{name: "no api groups", rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"pods"}}}, want: []want{required("rules[0].apiGroups")}},
		{name: "resource names on two resources", rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods", "secrets"}, ResourceNames: []string{"x"}}},
			want: []want{required("rules[0].resourceNames")}},
		{name: "non-resource URL in a Role", rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}},
			want: []want{invalidMsg("rules[0].nonResourceURLs", "namespaced rules cannot apply to non-resource URLs")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "default"}, Rules: tt.rules}
			checkErrors(t, "Role()", Role(r), tt.want...)
		})
	}
}

func TestClusterRole(t *testing.T) {
	tests := []struct {
		name string
		cr   rbacv1.ClusterRole
		want []want
	}{
		{name: "non-resource URL", cr: rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}},
		{name: "name with slash", cr: rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "a/b"}}, want: []want{invalidMsg("metadata.name", "may not contain '/'")}},
		{name: "name with colon", cr: rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:reader"}}},
		{name: "mixed rule", cr: rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}, Resources: []string{"pods"}}}},
			want: []want{invalidMsg("rules[0].nonResourceURLs", "rules cannot apply to both regular resources and non-resource URLs")}},
		{name: "empty aggregation rule", cr: rbacv1.ClusterRole{AggregationRule: &rbacv1.AggregationRule{}}, want: []want{required("aggregationRule.clusterRoleSelectors")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cr.Name == "" {
				tt.cr.Name = "reader"
			}
			checkErrors(t, "ClusterRole()", ClusterRole(&tt.cr), tt.want...)
		})
	}
}

func TestRoleBinding(t *testing.T) {
	tests := []struct {
		name string
		rb   rbacv1.RoleBinding
		want []want
	}{
		{name: "valid", rb: rbacv1.RoleBinding{
			RoleRef:  rbacv1.RoleRef{Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "ServiceAccount", Name: "builder"}, {Kind: "Group", Name: "devs"}},
		}},
		{name: "unknown role kind", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Policy", Name: "reader"}}, want: []want{notSupported("roleRef.kind")}},
		{name: "role name missing", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role"}}, want: []want{required("roleRef.name")}},
		{name: "wrong role api group", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: "example.com", Kind: "Role", Name: "reader"}}, want: []want{notSupported("roleRef.apiGroup")}},
		{name: "unknown subject kind", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r2"}}},
			want: []want{notSupported("subjects[0].kind")}},
		{name: "service account with api group", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", APIGroup: "rbac.authorization.k8s.io", Name: "builder"}}},
			want: []want{notSupported("subjects[0].apiGroup")}},
		{name: "user without name", rb: rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, Subjects: []rbacv1.Subject{{Kind: "User"}}},
			want: []want{required("subjects[0].name"), invalidMsg("subjects[0].name", "user name cannot be empty")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rb.ObjectMeta = metav1.ObjectMeta{Name: "read", Namespace: "default"}
			defaults.Apply(&tt.rb)
			checkErrors(t, "RoleBinding()", RoleBinding(&tt.rb), tt.want...)
		})
	}
	t.Run("roleRef immutable", func(t *testing.T) {
		old := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read", Namespace: "default", ResourceVersion: "1"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}}
		rb := old.DeepCopy()
		rb.RoleRef.Name = "writer"
		checkErrors(t, "RoleBindingUpdate()", RoleBindingUpdate(rb, old), invalidMsg("roleRef", "cannot change roleRef"))
	})
}

func TestClusterRoleBinding(t *testing.T) {
	tests := []struct {
		name string
		crb  rbacv1.ClusterRoleBinding
		want []want
	}{
		{name: "valid", crb: rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: "ci"}}}},
		{name: "role kind", crb: rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "view"}}, want: []want{notSupported("roleRef.kind")}},
		{name: "service account without namespace", crb: rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}}},
			want: []want{required("subjects[0].namespace")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.crb.ObjectMeta = metav1.ObjectMeta{Name: "view-all"}
			defaults.Apply(&tt.crb)
			checkErrors(t, "ClusterRoleBinding()", ClusterRoleBinding(&tt.crb), tt.want...)
		})
	}
}
