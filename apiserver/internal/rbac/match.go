package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ruleAllows reports whether rule grants the request described by attr.
func ruleAllows(attr *Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, attr.Verb) {
		return false
	}
	if !attr.ResourceRequest {
		return nonResourceURLMatches(rule, attr.Path)
	}
	combined := attr.Resource
	if attr.Subresource != "" {
		combined += "/" + attr.Subresource
	}
	return apiGroupMatches(rule, attr.APIGroup) &&
		resourceMatches(rule, combined, attr.Subresource) &&
		resourceNameMatches(rule, attr.Name)
}

// verbMatches reports whether the rule lists verb or "*".
func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	for _, v := range rule.Verbs {
		if v == rbacv1.VerbAll || v == verb {
			return true
		}
	}
	return false
}

// apiGroupMatches reports whether the rule lists group or "*".
func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	for _, g := range rule.APIGroups {
		if g == rbacv1.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

// resourceMatches reports whether the rule lists "*", the combined
// resource/subresource, or "*/<subresource>" when the request has a
// subresource.
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		if r == rbacv1.ResourceAll || r == combined {
			return true
		}
		if subresource != "" && strings.HasPrefix(r, "*/") && r[2:] == subresource {
			return true
		}
	}
	return false
}

// resourceNameMatches reports whether the rule has no resourceNames or lists name.
func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)
}

// nonResourceURLMatches reports whether one of the rule's URLs is "*", equals
// path, or ends in "*" and, without its trailing stars, is a prefix of path.
func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if nonResourceURLCovers(u, path) {
			return true
		}
	}
	return false
}

// nonResourceURLCovers reports whether the rule URL owner covers the URL path.
func nonResourceURLCovers(owner, path string) bool {
	if owner == rbacv1.NonResourceAll || owner == path {
		return true
	}
	return strings.HasSuffix(owner, "*") && strings.HasPrefix(path, strings.TrimRight(owner, "*"))
}
