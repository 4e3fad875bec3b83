package rbac_test

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/internal/rbac/rbactest"
)

func ExampleAuthorizer_Authorize() {
	src := rbactest.NewSource(
		role("dev", "pod-reader", rule("get,list", "", "pods")),
		roleBinding("dev", "read-pods", "Role", "pod-reader", userSubject("jane")),
	)
	a := rbac.New(src)
	jane := rbac.User{Name: "jane", Groups: []string{rbac.GroupAuthenticated}}

	for _, ns := range []string{"dev", "prod"} {
		attr := rbac.Attributes{User: jane, Verb: "list", ResourceRequest: true, Resource: "pods", Namespace: ns}
		allowed, reason, err := a.Authorize(context.Background(), attr)
		if err != nil {
			fmt.Println(err)
			return
		}
		if allowed {
			fmt.Println(reason)
			continue
		}
		// What the apiserver sends back, and kubectl prints.
		gr := schema.GroupResource{Group: attr.APIGroup, Resource: attr.Resource}
		fmt.Println(apierrors.NewForbidden(gr, attr.Name, errors.New(reason)).Error())
	}
	// Output:
	// RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to User "jane"
	// pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "prod"
}

func ExampleAuthorizer_CheckRole() {
	src := withBootstrap(roleBinding("dev", "ann-admin", "ClusterRole", "admin", userSubject("ann")))
	a := rbac.New(src)
	ann := rbac.User{Name: "ann", Groups: []string{rbac.GroupAuthenticated}}

	nodeReader := &rbacv1.Role{Rules: []rbacv1.PolicyRule{rule("get,list", "", "nodes")}}
	nodeReader.Namespace, nodeReader.Name = "dev", "node-reader"
	err := a.CheckRole(context.Background(), ann, nodeReader, nil)
	if errors.Is(err, rbac.ErrForbidden) {
		fmt.Println(apierrors.NewForbidden(rbacv1.Resource("roles"), nodeReader.Name, err).Error())
	}
	// Output:
	// roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "ann" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
	// {APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}
}

func ExampleAggregate() {
	widgets := labelled(clusterRole("widgets-view", rule("get,list", "example.com", "widgets")), rbac.AggregateToViewLabel)
	roles, _ := rbac.BootstrapPolicy()
	var view *rbacv1.ClusterRole
	for _, r := range roles {
		if r.Name == "view" {
			view = r
		}
	}
	aggregated, err := rbac.Aggregate(view, append(roles, widgets))
	if err != nil {
		fmt.Println(err)
		return
	}
	last := aggregated.Rules[len(aggregated.Rules)-1]
	fmt.Println(len(aggregated.Rules)-len(view.Rules), last.APIGroups, last.Resources, last.Verbs)
	// Output:
	// 1 [example.com] [widgets] [get list]
}

func ExampleNodeRestriction() {
	node := rbac.User{Name: "system:node:n1", Groups: []string{rbac.GroupNodes, rbac.GroupAuthenticated}}
	attr := rbac.Attributes{User: node, Verb: "patch", ResourceRequest: true, Resource: "pods", Subresource: "status", Namespace: "dev", Name: "web-0"}
	podNodeName := func() (string, error) { return "n2", nil } // the stored pod's spec.nodeName
	err := rbac.NodeRestriction(attr, podNodeName)
	fmt.Println(errors.Is(err, rbac.ErrForbidden), err)
	// Output:
	// true node "n1" can only update pod status for pods with spec.nodeName set to itself
}
