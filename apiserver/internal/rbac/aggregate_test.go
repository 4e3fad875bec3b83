package rbac_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
)

func TestAggregate(t *testing.T) {
	t.Parallel()
	const toMon, toOps = "example.com/aggregate-to-monitoring", "example.com/aggregate-to-ops"
	pods := rule("get,list,watch", "", "pods")
	nodes := rule("get", "", "nodes")
	metrics := urlRule("get", "/metrics")
	tests := []struct {
		name string
		role *rbacv1.ClusterRole
		all  []*rbacv1.ClusterRole
		want []rbacv1.PolicyRule
	}{
		{
			name: "no aggregation rule keeps the rules",
			role: clusterRole("plain", pods),
			all:  []*rbacv1.ClusterRole{labelled(clusterRole("b", nodes), toMon)},
			want: []rbacv1.PolicyRule{pods},
		},
		{
			name: "matching roles in name order, each rule once",
			role: aggregating(clusterRole("monitoring"), toMon),
			all: []*rbacv1.ClusterRole{
				labelled(clusterRole("z-metrics", metrics, pods), toMon),
				labelled(clusterRole("a-pods", pods), toMon),
				clusterRole("unlabelled", nodes),
				nil,
			},
			want: []rbacv1.PolicyRule{pods, metrics},
		},
		{
			name: "stale rules are replaced",
			role: aggregating(clusterRole("monitoring", nodes), toMon),
			all:  []*rbacv1.ClusterRole{labelled(clusterRole("a", metrics), toMon)},
			want: []rbacv1.PolicyRule{metrics},
		},
		{
			name: "nothing selected",
			role: aggregating(clusterRole("monitoring", nodes), toMon),
			all:  []*rbacv1.ClusterRole{clusterRole("a", metrics)},
			want: nil,
		},
		{
			name: "the role itself is skipped",
			role: labelled(aggregating(clusterRole("monitoring", nodes), toMon), toMon),
			all: []*rbacv1.ClusterRole{
				labelled(aggregating(clusterRole("monitoring", nodes), toMon), toMon),
				labelled(clusterRole("a", metrics), toMon),
			},
			want: []rbacv1.PolicyRule{metrics},
		},
		{
			name: "selectors in order",
			role: aggregating(clusterRole("ops"), toOps, toMon),
			all: []*rbacv1.ClusterRole{
				labelled(clusterRole("a-mon", metrics), toMon),
				labelled(clusterRole("b-ops", nodes), toOps),
			},
			want: []rbacv1.PolicyRule{nodes, metrics},
		},
		{
			name: "set-based selectors",
			role: &rbacv1.ClusterRole{
				ObjectMeta: metav1.ObjectMeta{Name: "ops"},
				AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
				}}},
			},
			all: []*rbacv1.ClusterRole{
				{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"tier": "b"}}, Rules: []rbacv1.PolicyRule{nodes}},
				{ObjectMeta: metav1.ObjectMeta{Name: "y", Labels: map[string]string{"tier": "c"}}, Rules: []rbacv1.PolicyRule{pods}},
			},
			want: []rbacv1.PolicyRule{nodes},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := tt.role.DeepCopy()
			got, err := rbac.Aggregate(tt.role, tt.all)
			if err != nil {
				t.Fatalf("Aggregate(%s) error: %v", tt.role.Name, err)
			}
			if diff := cmp.Diff(tt.want, got.Rules); diff != "" {
				t.Errorf("Aggregate(%s).Rules differ (-want +got):\n%s", tt.role.Name, diff)
			}
			if diff := cmp.Diff(before, tt.role); diff != "" {
				t.Errorf("Aggregate(%s) modified its input (-before +after):\n%s", tt.role.Name, diff)
			}
			if got == tt.role {
				t.Errorf("Aggregate(%s) returned its input; want a copy", tt.role.Name)
			}
		})
	}
}

func TestAggregateInvalidSelector(t *testing.T) {
	t.Parallel()
	r := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}},
		}}},
	}
	if got, err := rbac.Aggregate(r, nil); err == nil {
		t.Errorf("Aggregate(invalid selector) = %v, nil; want an error", got)
	}
}

// TestAggregateAuthorizes shows that a role gains permissions once its
// aggregated rules are stored, which is what the aggregation controller does.
func TestAggregateAuthorizes(t *testing.T) {
	t.Parallel()
	const label = "example.com/aggregate-to-crd-view"
	widgets := labelled(clusterRole("widgets-view", rule("get,list", "example.com", "widgets")), label)
	src := withBootstrap(
		widgets,
		aggregating(clusterRole("crd-view"), label),
		roleBinding("dev", "jane-crd-view", "ClusterRole", "crd-view", userSubject("jane")),
	)
	a := rbac.New(src)
	attr := resource(human("jane"), "list", "example.com", "widgets", "", "dev", "")
	if got, _, _ := authorize(a, attr); got {
		t.Fatalf("Authorize(%+v) before aggregation = true; want false", attr)
	}
	aggregated, err := rbac.Aggregate(aggregating(clusterRole("crd-view"), label), src.ClusterRoles())
	if err != nil {
		t.Fatalf("Aggregate(crd-view) error: %v", err)
	}
	src.Add(aggregated)
	if got, reason, _ := authorize(a, attr); !got {
		t.Errorf("Authorize(%+v) after aggregation = false (%s); want true", attr, reason)
	}
}
