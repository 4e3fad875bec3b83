package placement

import (
	"math"

	corev1 "k8s.io/api/core/v1"
)

// MaxNodeScore is the highest score one scorer gives a node.
const MaxNodeScore int64 = 100

// The weights of the scorers in the sum, those of kube-scheduler's default profile.
const (
	// WeightTaintToleration weighs the PreferNoSchedule taint score.
	WeightTaintToleration int64 = 3
	// WeightNodeAffinity weighs the preferred node-affinity score.
	WeightNodeAffinity int64 = 2
	// WeightSpreading weighs the same-controller spreading score.
	WeightSpreading int64 = 2
	// WeightLeastAllocated weighs the free cpu and memory score.
	WeightLeastAllocated int64 = 1
	// WeightBalancedAllocation weighs the cpu/memory balance score.
	WeightBalancedAllocation int64 = 1
)

// zoneWeighting is the share of the spreading score that comes from zone counts when nodes
// have zones, as in kube-scheduler's SelectorSpread.
const zoneWeighting = 2.0 / 3.0

// score sets the total of every candidate.
func (p *podFacts) score(cs []candidate) {
	bestEffort := p.req.milliCPU == 0 && p.req.memory == 0
	var maxAffinity, maxUntolerated, maxSiblings int64
	for i := range cs {
		c := &cs[i]
		c.total = WeightLeastAllocated * p.leastAllocated(c)
		if !bestEffort {
			c.total += WeightBalancedAllocation * p.balancedAllocation(c)
		}
		for j := range p.preferred {
			if p.preferred[j].term.match(c.node) {
				c.affinity += p.preferred[j].weight
			}
		}
		c.untolerated = untoleratedPreferNoSchedule(c.node, p.pod.Spec.Tolerations)
		if p.owner != "" {
			c.siblings = c.totals.owners[p.owner]
		}
		maxAffinity = max(maxAffinity, c.affinity)
		maxUntolerated = max(maxUntolerated, c.untolerated)
		maxSiblings = max(maxSiblings, c.siblings)
	}
	zones, maxZone := zoneCounts(cs)
	for i := range cs {
		c := &cs[i]
		if maxAffinity > 0 {
			c.total += WeightNodeAffinity * (MaxNodeScore * c.affinity / maxAffinity)
		}
		taint := MaxNodeScore
		if maxUntolerated > 0 {
			taint = MaxNodeScore - MaxNodeScore*c.untolerated/maxUntolerated
		}
		c.total += WeightTaintToleration * taint
		c.total += WeightSpreading * spreadScore(c, maxSiblings, zones, maxZone)
	}
}

// leastAllocated scores the share of cpu and memory left free on c after placing the pod,
// counting missing requests as the defaults.
func (p *podFacts) leastAllocated(c *candidate) int64 {
	var sum, weights int64
	if c.allocCPU > 0 {
		sum += leastRequested(c.nzCPU+p.nonZero.milliCPU, c.allocCPU)
		weights++
	}
	if c.allocMem > 0 {
		sum += leastRequested(c.nzMem+p.nonZero.memory, c.allocMem)
		weights++
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// leastRequested scores the unrequested share of capacity.
func leastRequested(requested, capacity int64) int64 {
	if requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

// balancedAllocation scores how close c's cpu and memory shares are to each other after
// placing the pod: MaxNodeScore times one minus their standard deviation.
func (p *podFacts) balancedAllocation(c *candidate) int64 {
	fractions := make([]float64, 0, 2)
	if c.allocCPU > 0 {
		fractions = append(fractions, math.Min(1, float64(c.reqCPU+p.req.milliCPU)/float64(c.allocCPU)))
	}
	if c.allocMem > 0 {
		fractions = append(fractions, math.Min(1, float64(c.reqMem+p.req.memory)/float64(c.allocMem)))
	}
	std := 0.0
	if len(fractions) == 2 {
		std = math.Abs(fractions[0]-fractions[1]) / 2
	}
	return int64((1 - std) * float64(MaxNodeScore))
}

// zone identifies a zone: a region and a zone name.
type zone struct{ region, name string }

// zoneOf returns node's zone, the zero zone when it has no zone labels.
func zoneOf(node *corev1.Node) zone {
	z := zone{region: node.Labels[corev1.LabelTopologyRegion], name: node.Labels[corev1.LabelTopologyZone]}
	if z.region == "" {
		z.region = node.Labels[corev1.LabelFailureDomainBetaRegion]
	}
	if z.name == "" {
		z.name = node.Labels[corev1.LabelFailureDomainBetaZone]
	}
	return z
}

// zoneCounts sets every candidate's zone and returns the number of the pod's siblings in
// each zone and the largest of them; zones is nil when no candidate has a zone.
func zoneCounts(cs []candidate) (zones map[zone]int64, maxZone int64) {
	for i := range cs {
		c := &cs[i]
		c.zone = c.totals.zone
		if c.zone == (zone{}) {
			continue
		}
		if zones == nil {
			zones = make(map[zone]int64)
		}
		zones[c.zone] += c.siblings
	}
	for _, n := range zones {
		maxZone = max(maxZone, n)
	}
	return zones, maxZone
}

// spreadScore scores c higher the fewer of the pod's siblings it and its zone hold.
func spreadScore(c *candidate, maxSiblings int64, zones map[zone]int64, maxZone int64) int64 {
	score := float64(MaxNodeScore)
	if maxSiblings > 0 {
		score = float64(MaxNodeScore) * float64(maxSiblings-c.siblings) / float64(maxSiblings)
	}
	if zones != nil && c.zone != (zone{}) {
		zoneScore := float64(MaxNodeScore)
		if maxZone > 0 {
			zoneScore = float64(MaxNodeScore) * float64(maxZone-zones[c.zone]) / float64(maxZone)
		}
		score = score*(1-zoneWeighting) + zoneWeighting*zoneScore
	}
	// The epsilon keeps a blend that is whole in exact arithmetic (1/3·100 + 2/3·100) from
	// truncating to one less.
	return int64(score + 1e-9)
}
