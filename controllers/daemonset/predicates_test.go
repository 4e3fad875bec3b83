package daemonset

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestShouldRunOn(t *testing.T) {
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	tests := []struct {
		name  string
		terms []corev1.NodeSelectorTerm
		node  *corev1.Node
		want  decision
	}{
		{name: "In matches", terms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a", "b")}}}, node: newNode("n", map[string]string{"zone": "b"}), want: decision{run: true, keep: true}},
		{name: "In misses", terms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a")}}}, node: newNode("n", map[string]string{"zone": "b"})},
		{name: "terms are ORed", terms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "a")}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpDoesNotExist)}},
		}, node: newNode("n", nil), want: decision{run: true, keep: true}},
		{name: "Gt", terms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("cores", corev1.NodeSelectorOpGt, "4")}}}, node: newNode("n", map[string]string{"cores": "8"}), want: decision{run: true, keep: true}},
		{name: "Lt misses", terms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("cores", corev1.NodeSelectorOpLt, "4")}}}, node: newNode("n", map[string]string{"cores": "8"})},
		{name: "matchFields on name", terms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req(metav1.ObjectNameField, corev1.NodeSelectorOpIn, "n")}}}, node: newNode("n", nil), want: decision{run: true, keep: true}},
		{name: "empty term matches nothing", terms: []corev1.NodeSelectorTerm{{}}, node: newNode("n", nil)},
		{name: "NoSchedule taint: no new pod, existing stays", node: newNode("n", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule}), want: decision{keep: true}},
		{name: "NoExecute taint: neither", node: newNode("n", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDS()
			if tc.terms != nil {
				ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: tc.terms},
				}}
			}
			if got := shouldRunOn(tc.node, ds); got != tc.want {
				t.Errorf("shouldRunOn = %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestPinToNode(t *testing.T) {
	pin := corev1.NodeSelectorRequirement{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}
	zone := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	preferred := []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{zone}}}}
	tests := []struct {
		name string
		in   *corev1.Affinity
		want *corev1.Affinity
	}{
		{
			name: "no affinity",
			want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pin}}},
			}}},
		},
		{
			name: "preferred terms kept",
			in:   &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: preferred}},
			want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pin}}},
				},
				PreferredDuringSchedulingIgnoredDuringExecution: preferred,
			}},
		},
		{
			name: "existing name field replaced, expressions kept",
			in: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{zone}, MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n9"}}}},
					{MatchExpressions: []corev1.NodeSelectorRequirement{zone}},
				},
			}}},
			want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{zone}, MatchFields: []corev1.NodeSelectorRequirement{pin}},
					{MatchExpressions: []corev1.NodeSelectorRequirement{zone}, MatchFields: []corev1.NodeSelectorRequirement{pin}},
				},
			}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pinToNode(tc.in, "n1")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pinToNode (-want +got):\n%s", diff)
			}
			pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: got}}
			if n := targetNode(pod); n != "n1" {
				t.Errorf("targetNode = %q; want n1", n)
			}
		})
	}
}
