package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// RuleSource is what the Authorizer reads: the RBAC objects the apiserver
// stores, at any consistency (an informer-like cache is fine; a grant takes
// effect once the source sees it).
//
// The Authorizer calls it from the goroutines of the requests it checks, so
// every method must be safe for concurrent use. Returned objects and slices are
// only read, never modified or retained after the call that received them.
type RuleSource interface {
	// GetRole returns the Role namespace/name, or (nil, nil) if it does not exist.
	GetRole(namespace, name string) (*rbacv1.Role, error)
	// GetClusterRole returns the ClusterRole name, or (nil, nil) if it does not exist.
	GetClusterRole(name string) (*rbacv1.ClusterRole, error)
	// ListRoleBindings returns the RoleBindings of namespace, in any order.
	ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error)
	// ListClusterRoleBindings returns every ClusterRoleBinding, in any order.
	ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error)
}

// Authorizer evaluates Kubernetes RBAC over a RuleSource. It is safe for
// concurrent use.
type Authorizer struct {
	src RuleSource
}

// New returns an Authorizer that reads src, which must not be nil.
func New(src RuleSource) *Authorizer {
	return &Authorizer{src: src}
}

// Authorize reports whether the request described by attr is allowed.
//
// When it is, reason names the grant for audit and logs, in Kubernetes' words:
//
//	RBAC: allowed by RoleBinding "readers/dev" of Role "pod-reader" to User "jane"
//
// When it is not, reason is the message of the 403 response (see
// ForbiddenMessage), followed by ": RBAC: <errors>" when bindings could not be
// resolved (a missing role, a failing RuleSource); such errors never allow
// anything, so they are reported, not returned. err is non-nil only when ctx is
// already done.
func (a *Authorizer) Authorize(ctx context.Context, attr Attributes) (allowed bool, reason string, err error) {
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	if isMaster(attr.User) {
		return true, fmt.Sprintf("RBAC: allowed by membership in group %q", GroupMasters), nil
	}
	ok, source, errs := a.check(&attr)
	if ok {
		return true, "RBAC: allowed by " + source.String(), nil
	}
	reason = ForbiddenMessage(attr)
	if len(errs) > 0 {
		reason += ": RBAC: " + utilerrors.NewAggregate(errs).Error()
	}
	return false, reason, nil
}

// allows reports whether attr is allowed, including the system:masters rule,
// for the write checks.
func (a *Authorizer) allows(attr Attributes) bool {
	if isMaster(attr.User) {
		return true
	}
	ok, _, _ := a.check(&attr)
	return ok
}

// check visits the rules that apply to attr's user and namespace until one
// allows attr. It returns the grant that allowed it, or the resolution errors
// met on the way.
func (a *Authorizer) check(attr *Attributes) (allowed bool, source grant, errs []error) {
	a.visitRules(attr.User, attr.Namespace, func(g grant, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil && ruleAllows(attr, rule) {
			allowed, source = true, g
			return false
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return allowed, source, errs
}

// RulesFor returns the rules granted to user in namespace: those of the roles
// bound by ClusterRoleBindings and, when namespace is not empty, by the
// RoleBindings of namespace. It is the basis of SelfSubjectRulesReview and of
// the escalation checks. A non-nil error lists the bindings that could not be
// resolved; the rules returned are still valid (RBAC rules only ever grant), but
// may be incomplete.
func (a *Authorizer) RulesFor(ctx context.Context, user User, namespace string) ([]rbacv1.PolicyRule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		rules []rbacv1.PolicyRule
		errs  []error
	)
	a.visitRules(user, namespace, func(_ grant, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// visitRules calls visit with every rule that applies to user in namespace and
// with every error met resolving the bindings, until visit returns false.
// ClusterRoleBindings come first, then the RoleBindings of namespace.
func (a *Authorizer) visitRules(user User, namespace string, visit func(g grant, rule *rbacv1.PolicyRule, err error) bool) {
	crbs, err := a.src.ListClusterRoleBindings()
	if err != nil {
		if !visit(grant{}, nil, err) {
			return
		}
	} else {
		for _, crb := range crbs {
			if crb != nil && !a.visitBinding(user, crb.Subjects, crb.RoleRef, "", grant{clusterBinding: crb}, visit) {
				return
			}
		}
	}

	if namespace == "" {
		return
	}
	rbs, err := a.src.ListRoleBindings(namespace)
	if err != nil {
		visit(grant{}, nil, err)
		return
	}
	for _, rb := range rbs {
		if rb != nil && !a.visitBinding(user, rb.Subjects, rb.RoleRef, namespace, grant{binding: rb}, visit) {
			return
		}
	}
}

// visitBinding calls visit, as visitRules does, with the rules of ref if one
// of subjects designates user, for a binding in namespace ("" for a
// ClusterRoleBinding); g, the binding's grant, gets the matching subject. It
// reports false once visit has returned false.
func (a *Authorizer) visitBinding(user User, subjects []rbacv1.Subject, ref rbacv1.RoleRef, namespace string, g grant, visit func(g grant, rule *rbacv1.PolicyRule, err error) bool) bool {
	i, ok := appliesTo(user, subjects, namespace)
	if !ok {
		return true
	}
	rules, err := a.roleRules(ref, namespace, listerRoleResources)
	if err != nil {
		return visit(grant{}, nil, err)
	}
	g.subject = &subjects[i]
	for j := range rules {
		if !visit(g, &rules[j], nil) {
			return false
		}
	}
	return true
}

// roleResources are the resource names a missing Role and ClusterRole are
// reported under.
type roleResources struct {
	role, clusterRole string
}

var (
	// listerRoleResources give the message of a Kubernetes lister, which the
	// authorizer reports: `clusterrole.rbac.authorization.k8s.io "x" not found`.
	listerRoleResources = roleResources{role: "role", clusterRole: "clusterrole"}
	// registryRoleResources give the message of the Kubernetes registry,
	// which the escalation checks report:
	// `clusterroles.rbac.authorization.k8s.io "x" not found`.
	registryRoleResources = roleResources{role: "roles", clusterRole: "clusterroles"}
)

// roleRules returns the rules of the role ref, for a binding in namespace (""
// for a ClusterRoleBinding). A missing role is a *NotFoundError naming the
// resource as names gives it; an unknown ref.Kind is ErrUnsupportedRoleRef.
func (a *Authorizer) roleRules(ref rbacv1.RoleRef, namespace string, names roleResources) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		role, err := a.src.GetRole(namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		if role == nil {
			return nil, &NotFoundError{Resource: rbacv1.Resource(names.role), Name: ref.Name}
		}
		return role.Rules, nil
	case "ClusterRole":
		role, err := a.src.GetClusterRole(ref.Name)
		if err != nil {
			return nil, err
		}
		if role == nil {
			return nil, &NotFoundError{Resource: rbacv1.Resource(names.clusterRole), Name: ref.Name}
		}
		return role.Rules, nil
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedRoleRef, ref.Kind)
	}
}

// appliesTo returns the index of the first subject that user matches, for a
// binding in namespace ("" for a ClusterRoleBinding).
func appliesTo(user User, subjects []rbacv1.Subject, namespace string) (int, bool) {
	for i := range subjects {
		if appliesToUser(user, &subjects[i], namespace) {
			return i, true
		}
	}
	return 0, false
}

// appliesToUser reports whether subject s designates user. A ServiceAccount
// subject without a namespace means the binding's namespace, so in a
// ClusterRoleBinding it designates nobody.
func appliesToUser(user User, s *rbacv1.Subject, namespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return user.Name == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(user.Groups, s.Name)
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		if ns == "" {
			return false
		}
		return matchesServiceAccount(user.Name, ns, s.Name)
	default:
		return false
	}
}

// matchesServiceAccount reports whether username is
// system:serviceaccount:<namespace>:<name>, without building that string.
func matchesServiceAccount(username, namespace, name string) bool {
	rest, ok := strings.CutPrefix(username, ServiceAccountUserPrefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, namespace)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, ":")
	return ok && rest == name
}

// grant identifies the binding and subject a rule came from, for the reason of
// an allowed request. Exactly one of clusterBinding and binding is set, except
// for the zero grant that accompanies errors.
type grant struct {
	clusterBinding *rbacv1.ClusterRoleBinding
	binding        *rbacv1.RoleBinding
	subject        *rbacv1.Subject
}

// String describes the grant as Kubernetes does, for example
// `ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`.
func (g grant) String() string {
	switch {
	case g.clusterBinding != nil:
		return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s",
			g.clusterBinding.Name, g.clusterBinding.RoleRef.Kind, g.clusterBinding.RoleRef.Name, describeSubject(g.subject, ""))
	case g.binding != nil:
		return fmt.Sprintf("RoleBinding %q of %s %q to %s",
			g.binding.Name+"/"+g.binding.Namespace, g.binding.RoleRef.Kind, g.binding.RoleRef.Name, describeSubject(g.subject, g.binding.Namespace))
	default:
		return "<unknown>"
	}
}

// describeSubject describes a binding subject; a service account is shown as
// "name/namespace".
func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}
