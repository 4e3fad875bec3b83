package rbac_test

import (
	"errors"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
)

func TestNodeRestriction(t *testing.T) {
	t.Parallel()
	n1 := rbac.User{Name: "system:node:n1", Groups: []string{rbac.GroupNodes, rbac.GroupAuthenticated}}
	nameless := rbac.User{Name: "system:node:", Groups: []string{rbac.GroupNodes}}
	impostor := rbac.User{Name: "system:node:n2", Groups: []string{rbac.GroupAuthenticated}}
	errLookup := errors.New(`pods "gone" not found`)
	on := func(node string) func() (string, error) { return func() (string, error) { return node, nil } }
	failing := func() (string, error) { return "", errLookup }

	tests := []struct {
		name    string
		attr    rbac.Attributes
		pod     func() (string, error)
		want    error
		wantMsg string
	}{
		{name: "own node update", attr: resource(n1, "update", "", "nodes", "", "", "n1")},
		{name: "own node status patch", attr: resource(n1, "patch", "", "nodes", "status", "", "n1")},
		{name: "own node create", attr: resource(n1, "create", "", "nodes", "", "", "n1")},
		{name: "other node update", attr: resource(n1, "update", "", "nodes", "", "", "n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node "n1" is not allowed to modify node "n2"`},
		{name: "other node status", attr: resource(n1, "patch", "", "nodes", "status", "", "n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node "n1" is not allowed to modify node "n2"`},
		{name: "other node create", attr: resource(n1, "create", "", "nodes", "", "", "n2"), want: rbac.ErrNodeRestriction},
		{name: "other node delete", attr: resource(n1, "delete", "", "nodes", "", "", "n2"), want: rbac.ErrNodeRestriction},
		{name: "node deletecollection", attr: resource(n1, "deletecollection", "", "nodes", "", "", ""), want: rbac.ErrNodeRestriction},
		{name: "reading other nodes", attr: resource(n1, "get", "", "nodes", "", "", "n2")},
		{name: "nodes of another group", attr: resource(n1, "update", "example.com", "nodes", "", "", "n2")},

		{name: "own pod status", attr: resource(n1, "update", "", "pods", "status", "dev", "p"), pod: on("n1")},
		{name: "other pod status", attr: resource(n1, "patch", "", "pods", "status", "dev", "p"), pod: on("n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{name: "unscheduled pod status", attr: resource(n1, "update", "", "pods", "status", "dev", "p"), pod: on(""), want: rbac.ErrNodeRestriction},
		{name: "pod status lookup error", attr: resource(n1, "update", "", "pods", "status", "dev", "gone"), pod: failing, want: errLookup},
		{name: "pod status without lookup", attr: resource(n1, "update", "", "pods", "status", "dev", "p"), want: rbac.ErrNodeRestriction},
		{name: "pod status create", attr: resource(n1, "create", "", "pods", "status", "dev", "p"), pod: on("n1"),
			want: rbac.ErrNodeRestriction, wantMsg: `unexpected operation "CREATE"`},
		{name: "own pod delete", attr: resource(n1, "delete", "", "pods", "", "dev", "p"), pod: on("n1")},
		{name: "other pod delete", attr: resource(n1, "delete", "", "pods", "", "dev", "p"), pod: on("n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node "n1" can only delete pods with spec.nodeName set to itself`},
		{name: "pod deletecollection", attr: resource(n1, "deletecollection", "", "pods", "", "dev", ""), pod: on("n1"), want: rbac.ErrNodeRestriction},
		{name: "own mirror pod create", attr: resource(n1, "create", "", "pods", "", "dev", "p"), pod: on("n1")},
		{name: "other pod create", attr: resource(n1, "create", "", "pods", "", "dev", "p"), pod: on("n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node "n1" can only create pods with spec.nodeName set to itself`},
		{name: "pod update", attr: resource(n1, "update", "", "pods", "", "dev", "p"), pod: on("n1"),
			want: rbac.ErrNodeRestriction, wantMsg: `unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{name: "own pod eviction", attr: resource(n1, "create", "", "pods", "eviction", "dev", "p"), pod: on("n1")},
		{name: "other pod eviction", attr: resource(n1, "create", "", "pods", "eviction", "dev", "p"), pod: on("n2"),
			want: rbac.ErrNodeRestriction, wantMsg: `node n1 can only evict pods with spec.nodeName set to itself`},
		{name: "pod binding", attr: resource(n1, "create", "", "pods", "binding", "dev", "p"), pod: on("n1"),
			want: rbac.ErrNodeRestriction, wantMsg: `unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`},
		{name: "pod exec is a connect request", attr: resource(n1, "create", "", "pods", "exec", "dev", "p")},
		{name: "pod reads", attr: resource(n1, "list", "", "pods", "", "", "")},

		{name: "own lease", attr: resource(n1, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1")},
		{name: "other lease", attr: resource(n1, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"),
			want: rbac.ErrNodeRestriction, wantMsg: "can only access node lease with the same name as the requesting node"},
		{name: "lease in another namespace", attr: resource(n1, "create", "coordination.k8s.io", "leases", "", "default", "n1"),
			want: rbac.ErrNodeRestriction, wantMsg: `can only access leases in the "kube-node-lease" system namespace`},

		{name: "other resources", attr: resource(n1, "create", "", "events", "", "dev", "")},
		{name: "non-resource requests", attr: path(n1, "post", "/anything")},
		{name: "node without a name", attr: resource(nameless, "update", "", "nodes", "", "", "n1"),
			want: rbac.ErrNodeRestriction, wantMsg: `could not determine node from user "system:node:"`},
		{name: "not in system:nodes", attr: resource(impostor, "update", "", "nodes", "", "", "n1")},
		{name: "not a node", attr: resource(human("jane"), "update", "", "nodes", "", "", "n1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := rbac.NodeRestriction(tt.attr, tt.pod)
			checkErr(t, "NodeRestriction("+tt.attr.User.Name+" "+tt.attr.Verb+" "+tt.attr.Resource+"/"+tt.attr.Subresource+" "+tt.attr.Name+")", err, tt.want, tt.wantMsg)
			if errors.Is(err, rbac.ErrNodeRestriction) && !errors.Is(err, rbac.ErrForbidden) {
				t.Errorf("NodeRestriction error %v does not match ErrForbidden", err)
			}
		})
	}
}
