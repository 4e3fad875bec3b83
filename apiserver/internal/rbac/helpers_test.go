package rbac_test

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/internal/rbac/rbactest"
)

// list splits a comma-separated list; "" is the list holding the empty string
// (the core API group).
func list(s string) []string { return strings.Split(s, ",") }

// rule returns a resource rule from comma-separated verbs, groups and resources.
func rule(verbs, groups, resources string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), APIGroups: list(groups), Resources: list(resources)}
}

// namedRule returns a resource rule limited to comma-separated resource names.
func namedRule(verbs, groups, resources, names string) rbacv1.PolicyRule {
	r := rule(verbs, groups, resources)
	r.ResourceNames = list(names)
	return r
}

// urlRule returns a non-resource rule from comma-separated verbs and URLs.
func urlRule(verbs, urls string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: list(verbs), NonResourceURLs: list(urls)}
}

// role returns the Role namespace/name with rules.
func role(namespace, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: rules}
}

// clusterRole returns the ClusterRole name with rules.
func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

// labelled returns r with the given label set to "true".
func labelled(r *rbacv1.ClusterRole, label string) *rbacv1.ClusterRole {
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	r.Labels[label] = "true"
	return r
}

// aggregating returns r with an aggregationRule selecting each label set to "true".
func aggregating(r *rbacv1.ClusterRole, labels ...string) *rbacv1.ClusterRole {
	r.AggregationRule = &rbacv1.AggregationRule{}
	for _, l := range labels {
		r.AggregationRule.ClusterRoleSelectors = append(r.AggregationRule.ClusterRoleSelectors,
			metav1.LabelSelector{MatchLabels: map[string]string{l: "true"}})
	}
	return r
}

// roleRef returns a reference to the role of the given kind and name.
func roleRef(kind, name string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
}

// roleBinding returns the RoleBinding namespace/name of the role kind/roleName.
func roleBinding(namespace, name, kind, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		RoleRef:    roleRef(kind, roleName),
		Subjects:   subjects,
	}
}

// clusterRoleBinding returns the ClusterRoleBinding name of the ClusterRole roleName.
func clusterRoleBinding(name, roleName string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    roleRef("ClusterRole", roleName),
		Subjects:   subjects,
	}
}

// userSubject, groupSubject and saSubject return binding subjects.
func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// groupSubject returns a Group subject.
func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// saSubject returns a ServiceAccount subject; namespace may be empty.
func saSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// human returns an authenticated user named name in the extra groups.
func human(name string, groups ...string) rbac.User {
	return rbac.User{Name: name, Groups: append(groups, rbac.GroupAuthenticated)}
}

// anonymous is the identity of unauthenticated requests.
var anonymous = rbac.User{Name: rbac.UserAnonymous, Groups: []string{rbac.GroupUnauthenticated}}

// withBootstrap returns a source holding the bootstrap policy and objs.
func withBootstrap(objs ...runtime.Object) *rbactest.Source {
	roles, bindings := rbac.BootstrapPolicy()
	src := rbactest.NewSource(objs...)
	for _, r := range roles {
		src.Add(r)
	}
	for _, b := range bindings {
		src.Add(b)
	}
	return src
}

// resource returns the attributes of a resource request; group and subresource
// are taken from "group/resource/subresource"-style arguments.
func resource(user rbac.User, verb, group, res, sub, namespace, name string) rbac.Attributes {
	return rbac.Attributes{
		User: user, Verb: verb, ResourceRequest: true,
		APIGroup: group, Resource: res, Subresource: sub, Namespace: namespace, Name: name,
	}
}

// path returns the attributes of a non-resource request.
func path(user rbac.User, verb, p string) rbac.Attributes {
	return rbac.Attributes{User: user, Verb: verb, Path: p}
}
