package tables

import (
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Roles and ClusterRoles have no column set of their own, in Kubernetes as here: they get the
// default Name and Created At columns.

// roleBindingConvertor prints rolebindings with their role and, wide, their subjects.
var roleBindingConvertor = &Convertor{
	columns: bindingColumns(rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
	row: cellsOf(func(rb *rbacv1.RoleBinding, now time.Time) []any {
		return bindingCells(&rb.ObjectMeta, rb.RoleRef, rb.Subjects, now)
	}),
}

// clusterRoleBindingConvertor prints clusterrolebindings like rolebindings.
var clusterRoleBindingConvertor = &Convertor{
	columns: bindingColumns(rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
	row: cellsOf(func(crb *rbacv1.ClusterRoleBinding, now time.Time) []any {
		return bindingCells(&crb.ObjectMeta, crb.RoleRef, crb.Subjects, now)
	}),
}

// bindingColumns returns the columns of a binding kind; what names the kind in the descriptions.
func bindingColumns(roleRefDoc, what string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		column("Role", "string", roleRefDoc),
		ageColumn(),
		wideColumn("Users", "string", "Users in the "+what),
		wideColumn("Groups", "string", "Groups in the "+what),
		wideColumn("ServiceAccounts", "string", "ServiceAccounts in the "+what),
	}
}

// bindingCells renders the role as "Kind/name" and the subjects by kind; service accounts show as
// "namespace/name". Subjects of other kinds are not shown.
func bindingCells(m *metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, now time.Time) []any {
	var users, groups, serviceAccounts []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			serviceAccounts = append(serviceAccounts, s.Namespace+"/"+s.Name)
		}
	}
	return []any{
		m.Name,
		ref.Kind + "/" + ref.Name,
		since(m.CreationTimestamp, now),
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(serviceAccounts, ", "),
	}
}
