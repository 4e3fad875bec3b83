package validation

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Role validates a Role: a name usable as a path segment, and policy rules
// with verbs, with API groups and resources (resourceNames only for a single
// resource), and no non-resource URLs.
func Role(r *rbacv1.Role) field.ErrorList {
	errs := ObjectMeta(&r.ObjectMeta, true, NameIsPathSegment, field.NewPath("metadata"))
	for i, rule := range r.Rules {
		errs = append(errs, policyRule(rule, true, field.NewPath("rules").Index(i))...)
	}
	return errs
}

// RoleUpdate validates an update of a Role.
func RoleUpdate(r, old *rbacv1.Role) field.ErrorList {
	errs := Role(r)
	return append(errs, ObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
}

// ClusterRole validates a ClusterRole: the rules of Role, except that rules
// may name non-resource URLs (then without resources), and an aggregation
// rule that has valid cluster role selectors.
func ClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := ObjectMeta(&r.ObjectMeta, false, NameIsPathSegment, field.NewPath("metadata"))
	for i, rule := range r.Rules {
		errs = append(errs, policyRule(rule, false, field.NewPath("rules").Index(i))...)
	}
	if r.AggregationRule != nil {
		p := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range r.AggregationRule.ClusterRoleSelectors {
			sel := &r.AggregationRule.ClusterRoleSelectors[i]
			errs = append(errs, labelSelector(sel, p.Index(i))...)
			if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
				errs = append(errs, field.Invalid(p.Index(i), sel, "invalid label selector."))
			}
		}
	}
	return errs
}

// ClusterRoleUpdate validates an update of a ClusterRole.
func ClusterRoleUpdate(r, old *rbacv1.ClusterRole) field.ErrorList {
	errs := ClusterRole(r)
	return append(errs, ObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
}

func policyRule(rule rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(rule.Verbs) == 0 {
		errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
	}
	if len(rule.NonResourceURLs) > 0 {
		if namespaced {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return errs
	}
	if len(rule.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	}
	if len(rule.ResourceNames) > 0 && len(rule.Resources) > 1 {
		errs = append(errs, field.Required(p.Child("resourceNames"), "resource names cannot apply to multiple resources"))
	}
	return errs
}

// RoleBinding validates a RoleBinding: a path-segment name, a roleRef to a
// Role or ClusterRole of rbac.authorization.k8s.io with a valid name, and
// subjects of kind ServiceAccount, User or Group with their API groups.
func RoleBinding(rb *rbacv1.RoleBinding) field.ErrorList {
	return binding(&rb.ObjectMeta, true, rb.RoleRef, []string{"Role", "ClusterRole"}, rb.Subjects)
}

// RoleBindingUpdate validates an update of a RoleBinding, whose roleRef is
// immutable.
func RoleBindingUpdate(rb, old *rbacv1.RoleBinding) field.ErrorList {
	return bindingUpdate(RoleBinding(rb), &rb.ObjectMeta, &old.ObjectMeta, rb.RoleRef, old.RoleRef)
}

// ClusterRoleBinding validates a ClusterRoleBinding: the rules of
// RoleBinding, with a roleRef to a ClusterRole and service account subjects
// that name their namespace.
func ClusterRoleBinding(crb *rbacv1.ClusterRoleBinding) field.ErrorList {
	return binding(&crb.ObjectMeta, false, crb.RoleRef, []string{"ClusterRole"}, crb.Subjects)
}

// ClusterRoleBindingUpdate validates an update of a ClusterRoleBinding, whose
// roleRef is immutable.
func ClusterRoleBindingUpdate(crb, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	return bindingUpdate(ClusterRoleBinding(crb), &crb.ObjectMeta, &old.ObjectMeta, crb.RoleRef, old.RoleRef)
}

// binding validates what RoleBindings and ClusterRoleBindings share: the
// metadata (namespaced or not), a roleRef to one of roleKinds, and the
// subjects.
func binding(meta *metav1.ObjectMeta, namespaced bool, ref rbacv1.RoleRef, roleKinds []string, subjects []rbacv1.Subject) field.ErrorList {
	errs := ObjectMeta(meta, namespaced, NameIsPathSegment, field.NewPath("metadata"))
	errs = append(errs, roleRef(ref, roleKinds)...)
	for i, s := range subjects {
		errs = append(errs, subject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

// bindingUpdate adds to errs, the errors of the new binding, the rules of a
// binding update: the metadata update and an immutable roleRef.
func bindingUpdate(errs field.ErrorList, meta, oldMeta *metav1.ObjectMeta, ref, oldRef rbacv1.RoleRef) field.ErrorList {
	errs = append(errs, ObjectMetaUpdate(meta, oldMeta, field.NewPath("metadata"))...)
	if ref != oldRef {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef"))
	}
	return errs
}

func roleRef(ref rbacv1.RoleRef, kinds []string) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	known := false
	for _, k := range kinds {
		known = known || k == ref.Kind
	}
	if !known {
		errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, nameErrors(NameIsPathSegment, ref.Name, false, p.Child("name"))...)
	}
	return errs
}

func subject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			errs = append(errs, nameErrors(NameIsDNSSubdomain, s.Name, false, p.Child("name"))...)
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.Name == "" {
			msg := "user name cannot be empty"
			if s.Kind == rbacv1.GroupKind {
				msg = "group name cannot be empty"
			}
			errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
		}
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}
