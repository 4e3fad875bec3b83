package placement

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// candidateFor filters n for pod and fails the test when n is refused.
func candidateFor(t *testing.T, p *podFacts, n *NodeInfo) candidate {
	t.Helper()
	c, reasons := p.filter(n)
	if len(reasons) > 0 {
		t.Fatalf("filter(%s) refused the node: %v", n.Node.Name, reasons)
	}
	return c
}

func TestLeastAllocated(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		node *NodeInfo
		want int64
	}{
		{
			name: "empty node",
			pod:  makePod("p", requests("cpu", "1", "memory", "2Gi")),
			node: info(makeNode("a", "4", "8Gi", 110)),
			want: (75 + 75) / 2,
		},
		{
			name: "loaded node",
			pod:  makePod("p", requests("cpu", "1", "memory", "2Gi")),
			node: info(makeNode("a", "4", "8Gi", 110), makePod("q", requests("cpu", "2", "memory", "2Gi"))),
			want: (25 + 50) / 2,
		},
		{
			name: "missing requests count as 100m and 200Mi",
			pod:  makePod("p"),
			node: info(makeNode("a", "1", "1000Mi", 110), makePod("q"), makePod("r")),
			want: (70 + 40) / 2,
		},
		{
			name: "explicit zero requests count as zero",
			pod:  makePod("p", requests("cpu", "0", "memory", "0")),
			node: info(makeNode("a", "1", "1000Mi", 110)),
			want: 100,
		},
		{
			name: "defaults apply per container",
			pod:  makePod("p", requests("cpu", "100m"), container()),
			node: info(makeNode("a", "1", "1000Mi", 110)),
			want: (80 + 60) / 2,
		},
		{
			name: "over-committed node scores zero for that resource",
			pod:  makePod("p", requests("cpu", "100m")),
			node: info(makeNode("a", "1", "1000Mi", 110), makePod("q", requests("memory", "2000Mi"))),
			want: (80 + 0) / 2, // q counts 100m of cpu
		},
		{
			name: "resources without capacity are left out",
			pod:  makePod("p", requests("cpu", "1")),
			node: info(makeNode("a", "4", "0", 110)),
			want: 75,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPodFacts(tt.pod)
			c := candidateFor(t, p, tt.node)
			if got := p.leastAllocated(&c); got != tt.want {
				t.Errorf("leastAllocated() = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestBalancedAllocation(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		node *NodeInfo
		want int64
	}{
		{
			name: "balanced",
			pod:  makePod("p", requests("cpu", "1", "memory", "2Gi")),
			node: info(makeNode("a", "4", "8Gi", 110)),
			want: 100,
		},
		{
			name: "unbalanced",
			pod:  makePod("p", requests("cpu", "3", "memory", "2Gi")),
			node: info(makeNode("a", "4", "8Gi", 110)),
			want: 75, // (1 - |0.75-0.25|/2) * 100
		},
		{
			name: "uses actual requests of placed pods, not defaults",
			pod:  makePod("p", requests("cpu", "1", "memory", "1Gi")),
			node: info(makeNode("a", "2", "2Gi", 110), makePod("q"), makePod("r", requests("cpu", "1"))),
			want: 75, // cpu 2/2, memory 1/2
		},
		{
			name: "fractions are capped at one",
			pod:  makePod("p", requests("memory", "1Gi")),
			node: info(makeNode("a", "1", "4Gi", 110), makePod("q", requests("cpu", "3"))),
			want: 62, // (1 - |1-0.25|/2) * 100, truncated
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPodFacts(tt.pod)
			c := candidateFor(t, p, tt.node)
			if got := p.balancedAllocation(&c); got != tt.want {
				t.Errorf("balancedAllocation() = %d; want %d", got, tt.want)
			}
		})
	}
}

// totals filters and scores nodes for pod and returns each node's total.
func totals(t *testing.T, pod *corev1.Pod, nodes ...*NodeInfo) map[string]int64 {
	t.Helper()
	p := newPodFacts(pod)
	cs := make([]candidate, 0, len(nodes))
	for _, n := range nodes {
		cs = append(cs, candidateFor(t, p, n))
	}
	p.score(cs)
	out := make(map[string]int64, len(cs))
	for _, c := range cs {
		out[c.node.Name] = c.total
	}
	return out
}

func TestScoreComponents(t *testing.T) {
	// base is the total of an empty 4-cpu/8Gi node for a pod requesting nothing: least
	// allocated (97+97)/2 with the defaults, no balanced score (best effort), no affinity,
	// full taint and spreading scores.
	const base = 97 + WeightTaintToleration*100 + WeightSpreading*100
	prefer := func(key string) corev1.Taint {
		return corev1.Taint{Key: key, Effect: corev1.TaintEffectPreferNoSchedule}
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*NodeInfo
		want  map[string]int64
	}{
		{
			name:  "best-effort pod on identical nodes",
			pod:   makePod("p"),
			nodes: []*NodeInfo{info(makeNode("a", "4", "8Gi", 110)), info(makeNode("b", "4", "8Gi", 110))},
			want:  map[string]int64{"a": base, "b": base},
		},
		{
			name: "preferred affinity scaled to the best node",
			pod: makePod("p", nodeAffinity(&corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 10, Preference: labelTerm(expr("disk", corev1.NodeSelectorOpIn, "ssd"))},
				{Weight: 30, Preference: labelTerm(expr("zone", corev1.NodeSelectorOpIn, "x"))},
				{Weight: 50, Preference: labelTerm()}, // empty: matches nothing
			}})),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110, withLabels("disk", "ssd"))),
				info(makeNode("b", "4", "8Gi", 110, withLabels("disk", "ssd", "zone", "x"))),
				info(makeNode("c", "4", "8Gi", 110)),
			},
			want: map[string]int64{
				"a": base + WeightNodeAffinity*25,
				"b": base + WeightNodeAffinity*100,
				"c": base,
			},
		},
		{
			name: "PreferNoSchedule taints, fewer is better",
			pod:  makePod("p", tolerations(corev1.Toleration{Key: "c", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110, withTaints(prefer("a"), prefer("b")))),
				info(makeNode("b", "4", "8Gi", 110, withTaints(prefer("a")))),
				info(makeNode("c", "4", "8Gi", 110, withTaints(prefer("c")))), // NoSchedule toleration does not count
				info(makeNode("d", "4", "8Gi", 110)),
			},
			want: map[string]int64{
				"a": base - WeightTaintToleration*100,
				"b": base - WeightTaintToleration*50,
				"c": base - WeightTaintToleration*50,
				"d": base,
			},
		},
		{
			name: "tolerated PreferNoSchedule taint",
			pod:  makePod("p", tolerations(corev1.Toleration{Key: "a", Operator: corev1.TolerationOpExists})),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110, withTaints(prefer("a")))),
				info(makeNode("b", "4", "8Gi", 110)),
			},
			want: map[string]int64{"a": base, "b": base},
		},
		{
			name: "spreading by controller",
			pod:  makePod("p", ownedBy("rs1")),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110), makePod("a1", ownedBy("rs1")), makePod("a2", ownedBy("rs1"))),
				info(makeNode("b", "4", "8Gi", 110), makePod("b1", ownedBy("rs1")), makePod("b2", ownedBy("rs2"))),
				info(makeNode("c", "4", "8Gi", 110), makePod("c1", ownedBy("rs2")), makePod("c2")),
			},
			// Each node holds two pods without requests: least allocated (92+92)/2.
			want: map[string]int64{
				"a": base - 5 + WeightSpreading*(0-100),
				"b": base - 5 + WeightSpreading*(50-100),
				"c": base - 5,
			},
		},
		{
			name: "spreading across zones",
			pod:  makePod("p", ownedBy("rs1")),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110, withLabels(corev1.LabelTopologyZone, "z1")), makePod("a1", ownedBy("rs1"))),
				info(makeNode("b", "4", "8Gi", 110, withLabels(corev1.LabelTopologyZone, "z1")), makePod("b1", ownedBy("rs2"))),
				info(makeNode("c", "4", "8Gi", 110, withLabels(corev1.LabelTopologyZone, "z2")), makePod("c1", ownedBy("rs2"))),
			},
			// Node scores 0, 100, 100; zone scores 0, 0, 100; blended 1/3 node + 2/3 zone.
			// Each node holds one pod without requests: least allocated (95+95)/2.
			want: map[string]int64{
				"a": base - 2 + WeightSpreading*(0-100),
				"b": base - 2 + WeightSpreading*(33-100),
				"c": base - 2,
			},
		},
		{
			name: "pods without a controller are not spread",
			pod:  makePod("p"),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110), makePod("a1"), makePod("a2")),
				info(makeNode("b", "4", "8Gi", 110), makePod("b1"), makePod("b2")),
			},
			want: map[string]int64{"a": base - 5, "b": base - 5},
		},
		{
			name: "balanced allocation counts for pods with requests",
			pod:  makePod("p", requests("cpu", "1", "memory", "1Gi")),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "4Gi", 110), makePod("q", requests("cpu", "2"))),
				info(makeNode("b", "4", "4Gi", 110), makePod("r", requests("cpu", "1", "memory", "1Gi"))),
			},
			// a: least (25 + 70)/2 = 47 (q counts 200Mi of memory), balanced 75.
			// b: least (50 + 50)/2 = 50, balanced 100.
			want: map[string]int64{
				"a": 47 + 75 + WeightTaintToleration*100 + WeightSpreading*100,
				"b": 50 + 100 + WeightTaintToleration*100 + WeightSpreading*100,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := totals(t, tt.pod, tt.nodes...)
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("total(%s) = %d; want %d (all: %v)", name, got[name], want, got)
				}
			}
		})
	}
}

func TestPlacePrefersBestScore(t *testing.T) {
	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*NodeInfo
		want  string
	}{
		{
			name: "ties go to the first name",
			pod:  makePod("p", requests("cpu", "1")),
			nodes: []*NodeInfo{
				info(makeNode("c", "4", "8Gi", 110)),
				info(makeNode("a", "4", "8Gi", 110)),
				info(makeNode("b", "4", "8Gi", 110)),
			},
			want: "a",
		},
		{
			name: "least allocated",
			pod:  makePod("p", requests("cpu", "1", "memory", "1Gi")),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110), makePod("q", requests("cpu", "2", "memory", "4Gi"))),
				info(makeNode("b", "4", "8Gi", 110), makePod("r", requests("cpu", "1", "memory", "2Gi"))),
			},
			want: "b",
		},
		{
			name: "pods without requests still weigh on scoring",
			pod:  makePod("p"),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110), many(10, "q")...),
				info(makeNode("b", "4", "8Gi", 110)),
			},
			want: "b",
		},
		{
			name: "preferred affinity",
			pod: makePod("p", nodeAffinity(&corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 1, Preference: labelTerm(expr("disk", corev1.NodeSelectorOpIn, "ssd"))},
			}})),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110)),
				info(makeNode("b", "4", "8Gi", 110, withLabels("disk", "ssd"))),
			},
			want: "b",
		},
		{
			name: "PreferNoSchedule taint",
			pod:  makePod("p"),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110, withTaints(corev1.Taint{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}))),
				info(makeNode("b", "4", "8Gi", 110)),
			},
			want: "b",
		},
		{
			name: "spreading beats emptiness",
			pod:  makePod("p", ownedBy("rs1"), requests("cpu", "100m", "memory", "128Mi")),
			nodes: []*NodeInfo{
				info(makeNode("a", "4", "8Gi", 110), makePod("a1", ownedBy("rs1"), requests("cpu", "100m", "memory", "128Mi"))),
				info(makeNode("b", "4", "8Gi", 110), makePod("b1", ownedBy("rs2"), requests("cpu", "1", "memory", "2Gi"))),
			},
			want: "b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Place(tt.pod, tt.nodes)
			if err != nil || got != tt.want {
				t.Errorf("Place() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
