package placement

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkPlace places one pod per iteration among 1,000 nodes that each run 20 pods of
// 10 controllers, with zones, a PreferNoSchedule taint on some nodes and a preferred node
// affinity; it reports the time per pod placed. "all" examines and scores every node
// (Place); "adaptive" samples as the scheduler does (kube-scheduler's adaptive
// percentageOfNodesToScore, 42% of 1,000 nodes, each search starting where the last ended).
func BenchmarkPlace(b *testing.B) {
	nodes, pod := benchCluster()
	for _, bc := range []struct {
		name       string
		percentage int32
	}{{"all", 100}, {"adaptive", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := 0
			for b.Loop() {
				r, err := PlaceWithOptions(pod, nodes, Options{PercentageOfNodesToScore: bc.percentage, Start: start})
				if err != nil {
					b.Fatal(err)
				}
				start = r.Next
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pod")
		})
	}
}

// benchCluster returns BenchmarkPlace's nodes and pod.
func benchCluster() ([]*NodeInfo, *corev1.Pod) {
	const numNodes, podsPerNode = 1000, 20
	nodes := make([]*NodeInfo, numNodes)
	for i := range nodes {
		opts := []nodeOpt{withLabels(corev1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%3), "disk", []string{"ssd", "hdd"}[i%2])}
		if i%10 == 0 {
			opts = append(opts, withTaints(corev1.Taint{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}))
		}
		n := NewNodeInfo(makeNode(fmt.Sprintf("node-%04d", i), "32", "128Gi", 110, opts...))
		for j := range podsPerNode {
			n.AddPod(makePod(fmt.Sprintf("p-%d-%d", i, j), ownedBy(fmt.Sprintf("rs-%d", j%10)), requests("cpu", "500m", "memory", "1Gi")))
		}
		nodes[i] = n
	}
	pod := makePod("new", ownedBy("rs-3"), requests("cpu", "500m", "memory", "1Gi"),
		nodeAffinity(&corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			{Weight: 10, Preference: labelTerm(expr("disk", corev1.NodeSelectorOpIn, "ssd"))},
		}}))

	return nodes, pod
}
