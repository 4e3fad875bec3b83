package defaults

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// RoleBinding sets roleRef.apiGroup to rbac.authorization.k8s.io and the API
// group of each subject by kind when unset.
func RoleBinding(rb *rbacv1.RoleBinding) {
	if rb.RoleRef.APIGroup == "" {
		rb.RoleRef.APIGroup = rbacv1.GroupName
	}
	subjects(rb.Subjects)
}

// ClusterRoleBinding sets roleRef.apiGroup to rbac.authorization.k8s.io and the
// API group of each subject by kind when unset.
func ClusterRoleBinding(crb *rbacv1.ClusterRoleBinding) {
	if crb.RoleRef.APIGroup == "" {
		crb.RoleRef.APIGroup = rbacv1.GroupName
	}
	subjects(crb.Subjects)
}

// subjects defaults the API group of User and Group subjects to
// rbac.authorization.k8s.io; ServiceAccount subjects keep the core group "".
func subjects(ss []rbacv1.Subject) {
	for i := range ss {
		if ss[i].APIGroup != "" {
			continue
		}
		switch ss[i].Kind {
		case rbacv1.UserKind, rbacv1.GroupKind:
			ss[i].APIGroup = rbacv1.GroupName
		}
	}
}
