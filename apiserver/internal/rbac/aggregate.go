package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Aggregate returns a deep copy of role whose rules are the aggregation of the
// ClusterRoles in all that role's aggregationRule selects, as Kubernetes'
// clusterrole-aggregation controller computes them: for each selector in
// order, the matching roles sorted by name (role itself excluded), and their
// rules in order, each rule kept once (nil and empty lists compare equal). The
// rules role had are replaced, not merged. If role has no aggregationRule the
// copy is unchanged. role and all are not modified; nil entries in all are
// ignored.
//
// The controller that keeps aggregated roles up to date calls Aggregate for
// every ClusterRole with an aggregationRule whenever any ClusterRole changes,
// and writes the result back (as system:masters) when its rules differ from
// the stored ones (equality.Semantic.DeepEqual); roles that aggregate other
// aggregated roles (admin gathers edit, which gathers view) converge over
// successive passes. An invalid selector is returned as an error and the role
// is left alone.
func Aggregate(role *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) (*rbacv1.ClusterRole, error) {
	out := role.DeepCopy()
	if role.AggregationRule == nil {
		return out, nil
	}
	sorted := slices.DeleteFunc(slices.Clone(all), func(r *rbacv1.ClusterRole) bool { return r == nil })
	slices.SortStableFunc(sorted, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })

	var rules []rbacv1.PolicyRule
	for i := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&role.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, fmt.Errorf("rbac: clusterrole %q: aggregationRule.clusterRoleSelectors[%d]: %v", role.Name, i, err)
		}
		for _, other := range sorted {
			if other.Name == role.Name || !sel.Matches(labels.Set(other.Labels)) {
				continue
			}
			for _, r := range other.Rules {
				if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(have, r) }) {
					rules = append(rules, *r.DeepCopy())
				}
			}
		}
	}
	out.Rules = rules
	return out, nil
}
