package placement

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// requirement is one parsed node selector requirement.
type requirement struct {
	key    string
	op     corev1.NodeSelectorOperator
	values []string
	// bound is the integer of a Gt or Lt requirement.
	bound int64
}

// term is one parsed node selector term: its requirements are ANDed.
type term struct {
	labels []requirement
	fields []requirement
}

// parseTerm parses t. It reports false for a term that matches nothing: an empty term or
// one with an invalid requirement, as Kubernetes treats them.
func parseTerm(t *corev1.NodeSelectorTerm) (term, bool) {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return term{}, false
	}
	var out term
	for _, e := range t.MatchExpressions {
		r, ok := parseLabelRequirement(e)
		if !ok {
			return term{}, false
		}
		out.labels = append(out.labels, r)
	}
	for _, e := range t.MatchFields {
		switch e.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(e.Values) != 1 {
				return term{}, false
			}
		default:
			return term{}, false
		}
		out.fields = append(out.fields, requirement{key: e.Key, op: e.Operator, values: e.Values})
	}
	return out, true
}

// parseLabelRequirement parses a matchExpressions entry, checking the number of values
// each operator takes and that Gt and Lt compare with an integer.
func parseLabelRequirement(e corev1.NodeSelectorRequirement) (requirement, bool) {
	r := requirement{key: e.Key, op: e.Operator, values: e.Values}
	switch e.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		return r, len(e.Values) > 0
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		return r, len(e.Values) == 0
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(e.Values) != 1 {
			return r, false
		}
		n, err := strconv.ParseInt(e.Values[0], 10, 64)
		if err != nil {
			return r, false
		}
		r.bound = n
		return r, true
	default:
		return r, false
	}
}

// matchLabel reports whether labels satisfy r.
func (r *requirement) matchLabel(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.op {
	case corev1.NodeSelectorOpIn:
		return ok && slices.Contains(r.values, v)
	case corev1.NodeSelectorOpNotIn:
		return !ok || !slices.Contains(r.values, v)
	case corev1.NodeSelectorOpExists:
		return ok
	case corev1.NodeSelectorOpDoesNotExist:
		return !ok
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.op == corev1.NodeSelectorOpGt {
			return n > r.bound
		}
		return n < r.bound
	}
	return false
}

// matchField reports whether node satisfies the field requirement r. Nodes have one
// selectable field, metadata.name; any other field reads as empty.
func (r *requirement) matchField(node *corev1.Node) bool {
	var v string
	if r.key == metav1.ObjectNameField {
		v = node.Name
	}
	if r.op == corev1.NodeSelectorOpIn {
		return v == r.values[0]
	}
	return v != r.values[0]
}

// match reports whether node satisfies every requirement of t.
func (t *term) match(node *corev1.Node) bool {
	for i := range t.labels {
		if !t.labels[i].matchLabel(node.Labels) {
			return false
		}
	}
	for i := range t.fields {
		if !t.fields[i].matchField(node) {
			return false
		}
	}
	return true
}

// nodeSelector is a parsed required node affinity: a node matches when it matches any term.
type nodeSelector struct {
	terms []term
}

// parseNodeSelector parses ns, dropping terms that match nothing.
func parseNodeSelector(ns *corev1.NodeSelector) *nodeSelector {
	s := &nodeSelector{}
	for i := range ns.NodeSelectorTerms {
		if t, ok := parseTerm(&ns.NodeSelectorTerms[i]); ok {
			s.terms = append(s.terms, t)
		}
	}
	return s
}

// match reports whether node matches any term of s.
func (s *nodeSelector) match(node *corev1.Node) bool {
	for i := range s.terms {
		if s.terms[i].match(node) {
			return true
		}
	}
	return false
}

// preferredTerm is a parsed preferred scheduling term.
type preferredTerm struct {
	weight int64
	term   term
}

// parsePreferred parses the preferred terms of na, dropping those with no weight and those
// that match nothing.
func parsePreferred(terms []corev1.PreferredSchedulingTerm) []preferredTerm {
	var out []preferredTerm
	for i := range terms {
		if terms[i].Weight == 0 {
			continue
		}
		if t, ok := parseTerm(&terms[i].Preference); ok {
			out = append(out, preferredTerm{weight: int64(terms[i].Weight), term: t})
		}
	}
	return out
}

// requiredNodeNames returns the node names a required node affinity restricts a pod to, as
// NodeAffinity's pre-filter computes them: the union over terms of the intersection of each
// term's matchFields metadata.name In values. It returns nil when some term names no node
// (any node may then match), and an empty, non-nil set when the terms conflict.
func requiredNodeNames(ns *corev1.NodeSelector) map[string]struct{} {
	var union map[string]struct{}
	for i := range ns.NodeSelectorTerms {
		var names map[string]struct{}
		for _, f := range ns.NodeSelectorTerms[i].MatchFields {
			if f.Key != metav1.ObjectNameField || f.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			set := make(map[string]struct{}, len(f.Values))
			for _, v := range f.Values {
				if names == nil {
					set[v] = struct{}{}
				} else if _, ok := names[v]; ok {
					set[v] = struct{}{}
				}
			}
			names = set
		}
		if names == nil {
			return nil
		}
		if union == nil {
			union = make(map[string]struct{}, len(names))
		}
		for n := range names {
			union[n] = struct{}{}
		}
	}
	return union
}
