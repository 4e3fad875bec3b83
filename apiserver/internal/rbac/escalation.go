package rbac

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fullAuthority is what cluster-admin grants; setting an aggregationRule
// requires it, since an aggregated role can gather any permission.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{rbacv1.VerbAll}, APIGroups: []string{rbacv1.APIGroupAll}, Resources: []string{rbacv1.ResourceAll}},
	{Verbs: []string{rbacv1.VerbAll}, NonResourceURLs: []string{rbacv1.NonResourceAll}},
}

// ConfirmNoEscalation returns nil if user already holds, in namespace ("" for
// cluster-wide), every permission that rules grant, or belongs to
// system:masters. Otherwise it returns an error matching ErrEscalation whose
// message lists the missing permissions as Kubernetes does:
//
//	user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//	{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}
//
// It does not consider the escalate verb; CheckRole and CheckClusterRole do.
func (a *Authorizer) ConfirmNoEscalation(ctx context.Context, user User, namespace string, rules []rbacv1.PolicyRule) error {
	if isMaster(user) {
		return nil
	}
	owner, resolveErr := a.RulesFor(ctx, user, namespace)
	if err := ctx.Err(); err != nil {
		return err
	}
	ok, missing := covers(owner, rules)
	if ok {
		return nil
	}
	descriptions := make([]string, 0, len(missing))
	for _, r := range compactRules(missing) {
		descriptions = append(descriptions, compactString(r))
	}
	sort.Strings(descriptions)
	descriptions = slices.Compact(descriptions)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		user.Name, user.Groups, strings.Join(descriptions, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return &forbiddenError{kind: ErrEscalation, msg: msg}
}

// CanBind returns nil if user may create or update a binding in namespace ("" for
// a ClusterRoleBinding) that refers to ref: if the user may "bind" the role
// (verb bind on roles or clusterroles named ref.Name in ref.APIGroup, checked in
// namespace), already holds every permission of the role (ConfirmNoEscalation),
// or belongs to system:masters. A user who may bind the role may bind it even
// if it does not exist yet; otherwise a missing role is reported with a
// *NotFoundError and an unknown ref.Kind with ErrUnsupportedRoleRef. Errors of
// the RuleSource are returned unchanged.
func (a *Authorizer) CanBind(ctx context.Context, user User, ref rbacv1.RoleRef, namespace string) error {
	if isMaster(user) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var resource string
	switch ref.Kind {
	case "ClusterRole":
		resource = "clusterroles"
	case "Role":
		resource = "roles"
	default:
		return fmt.Errorf("%w: %q", ErrUnsupportedRoleRef, ref.Kind)
	}
	if a.allows(Attributes{
		User:            user,
		Verb:            "bind",
		ResourceRequest: true,
		APIGroup:        ref.APIGroup,
		Resource:        resource,
		Namespace:       namespace,
		Name:            ref.Name,
	}) {
		return nil
	}
	rules, err := a.roleRules(ref, namespace, registryRoleResources)
	if err != nil {
		return err
	}
	return a.ConfirmNoEscalation(ctx, user, namespace, rules)
}

// CheckRole decides whether user may store role, a Role being created (old is
// nil) or updated from old. role.Namespace must already be set from the
// request. The write is allowed if user belongs to system:masters, if the
// update only changes what the garbage collector changes (ownerReferences,
// finalizers), if user may "escalate" roles in the namespace (named role.Name on
// update; on create the request has no name, as in Kubernetes), or if user holds
// every permission of role.Rules in its namespace. A refusal matches
// ErrEscalation.
func (a *Authorizer) CheckRole(ctx context.Context, user User, role, old *rbacv1.Role) error {
	if writeExempt(user, role, old) {
		return nil
	}
	if a.mayEscalate(user, "roles", role.Namespace, nameOnUpdate(role.Name, old != nil)) {
		return nil
	}
	return a.ConfirmNoEscalation(ctx, user, role.Namespace, role.Rules)
}

// CheckClusterRole decides whether user may store role, a ClusterRole being
// created (old is nil) or updated from old, with the rules of CheckRole applied
// cluster-wide. In addition, unless user belongs to system:masters or may
// escalate clusterroles, a role that has or had an aggregationRule may only be
// written by a user holding full authority (cluster-admin's rules). A refusal
// matches ErrEscalation.
func (a *Authorizer) CheckClusterRole(ctx context.Context, user User, role, old *rbacv1.ClusterRole) error {
	if writeExempt(user, role, old) {
		return nil
	}
	if a.mayEscalate(user, "clusterroles", "", nameOnUpdate(role.Name, old != nil)) {
		return nil
	}
	if err := a.ConfirmNoEscalation(ctx, user, "", role.Rules); err != nil {
		return err
	}
	if hasAggregationRule(role) || (old != nil && hasAggregationRule(old)) {
		if err := a.ConfirmNoEscalation(ctx, user, "", fullAuthority); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			return &forbiddenError{kind: ErrEscalation, msg: "must have cluster-admin privileges to use the aggregationRule"}
		}
	}
	return nil
}

// CheckRoleBinding decides whether user may store rb, a RoleBinding being
// created (old is nil) or updated from old; rb.Namespace must already be set
// from the request. It is allowed if user belongs to system:masters, if the
// update only changes ownerReferences or finalizers, or if CanBind allows
// binding rb.RoleRef in rb.Namespace.
func (a *Authorizer) CheckRoleBinding(ctx context.Context, user User, rb, old *rbacv1.RoleBinding) error {
	if writeExempt(user, rb, old) {
		return nil
	}
	return a.CanBind(ctx, user, rb.RoleRef, rb.Namespace)
}

// CheckClusterRoleBinding decides whether user may store crb, a
// ClusterRoleBinding being created (old is nil) or updated from old, as
// CheckRoleBinding does, with the bind check made cluster-wide.
func (a *Authorizer) CheckClusterRoleBinding(ctx context.Context, user User, crb, old *rbacv1.ClusterRoleBinding) error {
	if writeExempt(user, crb, old) {
		return nil
	}
	return a.CanBind(ctx, user, crb.RoleRef, "")
}

// writeExempt reports whether user may store obj, replacing old (nil on
// create), without the escalation checks: user belongs to system:masters, or
// the update only changes what the garbage collector changes.
func writeExempt[P interface {
	comparable
	DeepCopy() P
}](user User, obj, old P) bool {
	var none P
	return isMaster(user) || (old != none && onlyGCFieldsChanged(obj.DeepCopy(), old))
}

// mayEscalate reports whether user may "escalate" the given RBAC role resource.
func (a *Authorizer) mayEscalate(user User, resource, namespace, name string) bool {
	return a.allows(Attributes{
		User:            user,
		Verb:            "escalate",
		ResourceRequest: true,
		APIGroup:        rbacv1.GroupName,
		Resource:        resource,
		Namespace:       namespace,
		Name:            name,
	})
}

// nameOnUpdate returns the name the request URL carries: the object's name on
// update, none on create.
func nameOnUpdate(name string, update bool) string {
	if update {
		return name
	}
	return ""
}

// hasAggregationRule reports whether role has at least one cluster role selector.
func hasAggregationRule(role *rbacv1.ClusterRole) bool {
	return role.AggregationRule != nil && len(role.AggregationRule.ClusterRoleSelectors) > 0
}

// onlyGCFieldsChanged reports whether cp, a deep copy of the object being
// stored, differs from old (the stored object, of the same type) at most in the
// fields the garbage collector edits (ownerReferences, finalizers) and in the
// bookkeeping the apiserver maintains (selfLink, resourceVersion,
// managedFields). It overwrites those fields of cp.
func onlyGCFieldsChanged(cp, old any) bool {
	cm, om := objectMetaOf(cp), objectMetaOf(old)
	if cm == nil || om == nil {
		return false
	}
	cm.OwnerReferences = om.OwnerReferences
	cm.Finalizers = om.Finalizers
	cm.SelfLink = om.SelfLink
	cm.ResourceVersion = om.ResourceVersion
	cm.ManagedFields = om.ManagedFields
	return equality.Semantic.DeepEqual(cp, old)
}

// objectMetaOf returns the ObjectMeta of an RBAC object.
func objectMetaOf(obj any) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *rbacv1.Role:
		return &o.ObjectMeta
	case *rbacv1.ClusterRole:
		return &o.ObjectMeta
	case *rbacv1.RoleBinding:
		return &o.ObjectMeta
	case *rbacv1.ClusterRoleBinding:
		return &o.ObjectMeta
	default:
		return nil
	}
}

// covers reports whether owner grants everything servant grants, and returns the
// parts of servant (broken down to one verb, group, resource and name, or one
// verb and URL) that owner does not grant.
func covers(owner, servant []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	var missing []rbacv1.PolicyRule
	for _, s := range servant {
		for _, sub := range breakdownRule(s) {
			if !slices.ContainsFunc(owner, func(o rbacv1.PolicyRule) bool { return ruleCovers(&o, &sub) }) {
				missing = append(missing, sub)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdownRule splits rule into rules of one API group, resource, verb and
// resource name (if it has names), plus rules of one non-resource URL and verb.
func breakdownRule(rule rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var subs []rbacv1.PolicyRule
	for _, g := range rule.APIGroups {
		for _, r := range rule.Resources {
			for _, v := range rule.Verbs {
				if len(rule.ResourceNames) == 0 {
					subs = append(subs, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{r}, Verbs: []string{v}})
					continue
				}
				for _, n := range rule.ResourceNames {
					subs = append(subs, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{r}, Verbs: []string{v}, ResourceNames: []string{n}})
				}
			}
		}
	}
	for _, u := range rule.NonResourceURLs {
		for _, v := range rule.Verbs {
			subs = append(subs, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{v}})
		}
	}
	return subs
}

// ruleCovers reports whether owner grants sub, a rule produced by breakdownRule.
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	verbs := slices.Contains(owner.Verbs, rbacv1.VerbAll) || hasAll(owner.Verbs, sub.Verbs)
	groups := slices.Contains(owner.APIGroups, rbacv1.APIGroupAll) || hasAll(owner.APIGroups, sub.APIGroups)
	names := len(owner.ResourceNames) == 0 || (len(sub.ResourceNames) > 0 && hasAll(owner.ResourceNames, sub.ResourceNames))
	return verbs && groups && names &&
		resourcesCover(owner.Resources, sub.Resources) &&
		nonResourceURLsCover(owner.NonResourceURLs, sub.NonResourceURLs)
}

// hasAll reports whether set contains every element of elems.
func hasAll(set, elems []string) bool {
	for _, e := range elems {
		if !slices.Contains(set, e) {
			return false
		}
	}
	return true
}

// resourcesCover reports whether the owner resources cover every resource in
// wanted: "*" covers everything, "*/<sub>" covers any "<resource>/<sub>".
func resourcesCover(owner, wanted []string) bool {
	if slices.Contains(owner, rbacv1.ResourceAll) {
		return true
	}
	for _, r := range wanted {
		if slices.Contains(owner, r) {
			continue
		}
		_, sub, ok := strings.Cut(r, "/")
		if !ok || !slices.Contains(owner, "*/"+sub) {
			return false
		}
	}
	return true
}

// nonResourceURLsCover reports whether every URL in wanted is covered by one of
// the owner URLs.
func nonResourceURLsCover(owner, wanted []string) bool {
	for _, w := range wanted {
		if !slices.ContainsFunc(owner, func(o string) bool { return nonResourceURLCovers(o, w) }) {
			return false
		}
	}
	return true
}

// simpleResource keys the rules compactRules merges: one group, one resource
// and at most one resource name.
type simpleResource struct {
	group, resource string
	hasName         bool
	name            string
}

// compactRules merges rules that name a single API group and resource (and at
// most one resource name) and differ only in verbs, as Kubernetes does before
// listing missing permissions. Other rules are kept as they are.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, 0, len(rules))
	merged := map[simpleResource]int{} // index in out
	for _, r := range rules {
		key, ok := simpleResourceOf(&r)
		if !ok {
			out = append(out, r)
			continue
		}
		if i, seen := merged[key]; seen {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		merged[key] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// simpleResourceOf returns the key of a rule with verbs, exactly one API group
// and resource, at most one resource name and nothing else.
func simpleResourceOf(r *rbacv1.PolicyRule) (simpleResource, bool) {
	if len(r.APIGroups) != 1 || len(r.Resources) != 1 || len(r.ResourceNames) > 1 || len(r.NonResourceURLs) > 0 {
		return simpleResource{}, false
	}
	key := simpleResource{group: r.APIGroups[0], resource: r.Resources[0]}
	if len(r.ResourceNames) == 1 {
		key.hasName, key.name = true, r.ResourceNames[0]
	}
	return key, true
}

// compactString formats a rule as Kubernetes does in escalation messages:
// {APIGroups:[""], Resources:["pods"], Verbs:["get"]}, omitting empty fields.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, values []string) {
		if len(values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, values))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
