package placement

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Place picks the best node for pod among nodes and returns its name, or returns a
// *FitError listing why each node was refused. Nodes are filtered and scored as the
// package documentation describes; every node is examined, and among the best-scoring
// nodes the one whose name sorts first wins. Place does not modify pod or nodes.
func Place(pod *corev1.Pod, nodes []*NodeInfo) (string, error) {
	r, err := PlaceWithOptions(pod, nodes, Options{PercentageOfNodesToScore: 100})
	return r.Node, err
}

// Options tune PlaceWithOptions.
type Options struct {
	// PercentageOfNodesToScore is kube-scheduler's setting of that name: once this share
	// of the nodes (but at least MinFeasibleNodesToFind, and every node of a cluster
	// smaller than that) has passed the filters, the search stops and only those nodes
	// are scored. 0 or less picks kube-scheduler's adaptive share, 50% minus one point per
	// 125 nodes, at least 5%; 100 or more examines every node.
	PercentageOfNodesToScore int32
	// Start is the index of the node the search begins with; it wraps around the end of
	// nodes. Passing the previous Result.Next spreads the searches over every node, as
	// kube-scheduler does. Out-of-range values are taken modulo len(nodes).
	Start int
}

// MinFeasibleNodesToFind is the fewest feasible nodes a sampled search looks for before it
// stops (kube-scheduler's minFeasibleNodesToFind).
const MinFeasibleNodesToFind = 100

// Result is the outcome of PlaceWithOptions.
type Result struct {
	// Node is the name of the chosen node; empty on error.
	Node string
	// Next is the index the next search should start from: the node after the last one
	// examined.
	Next int
	// Examined is how many nodes were run through the filters; Feasible how many of them
	// passed and were scored.
	Examined, Feasible int
}

// numFeasibleNodesToFind returns how many feasible nodes a search among numAll nodes looks
// for before it stops.
func numFeasibleNodesToFind(numAll int, percentage int32) int {
	if numAll < MinFeasibleNodesToFind || percentage >= 100 {
		return numAll
	}
	if percentage <= 0 {
		percentage = int32(50 - numAll/125)
		if percentage < 5 {
			percentage = 5
		}
	}
	return max(numAll*int(percentage)/100, MinFeasibleNodesToFind)
}

// candidatePool recycles the candidate slices of PlaceWithOptions.
var candidatePool = sync.Pool{New: func() any { return new([]candidate) }}

// PlaceWithOptions is Place with kube-scheduler's sampling of nodes: it examines nodes
// from opts.Start on, wrapping around, stops once it has found as many feasible nodes as
// opts.PercentageOfNodesToScore asks for, and picks the best-scoring of them (the one whose
// name sorts first among equals). When fewer nodes are feasible, every node is examined,
// so a *FitError always lists every node. Nil entries and entries with a nil Node are
// skipped. It does not modify pod or nodes.
func PlaceWithOptions(pod *corev1.Pod, nodes []*NodeInfo, opts Options) (Result, error) {
	p := newPodFacts(pod)
	fe := &FitError{Pod: pod, NodeReasons: map[string][]string{}}
	if p.conflict {
		for _, n := range nodes {
			if n != nil && n.Node != nil {
				fe.NumAllNodes++
			}
		}
		if fe.NumAllNodes > 0 {
			fe.PodReason = ReasonAffinityConflict
		}
		return Result{Next: opts.Start}, fe
	}
	var r Result
	numAll := len(nodes)
	if numAll == 0 {
		return r, fe
	}
	start := opts.Start % numAll
	if start < 0 {
		start += numAll
	}
	want := numFeasibleNodesToFind(numAll, opts.PercentageOfNodesToScore)
	buf := candidatePool.Get().(*[]candidate)
	defer func() {
		clear(*buf) // drop the references to nodes
		candidatePool.Put(buf)
	}()
	feasible := (*buf)[:0]
	for i := 0; i < numAll && len(feasible) < want; i++ {
		r.Examined++
		n := nodes[(start+i)%numAll]
		if n == nil || n.Node == nil {
			continue
		}
		fe.NumAllNodes++
		c, reasons := p.filter(n)
		if len(reasons) > 0 {
			fe.NodeReasons[n.Node.Name] = reasons
			continue
		}
		feasible = append(feasible, c)
	}
	*buf = feasible
	r.Next = (start + r.Examined) % numAll
	r.Feasible = len(feasible)
	switch len(feasible) {
	case 0:
		// Every node was examined; nodes skipped as nil do not count.
		return r, fe
	case 1:
		r.Node = feasible[0].node.Name
		return r, nil
	}
	p.score(feasible)
	best := 0
	for i := 1; i < len(feasible); i++ {
		c, b := &feasible[i], &feasible[best]
		if c.total > b.total || (c.total == b.total && c.node.Name < b.node.Name) {
			best = i
		}
	}
	r.Node = feasible[best].node.Name
	return r, nil
}

// hostPort is a host port a container asks for, with defaults applied.
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// anyIP is the host IP that binds every address.
const anyIP = "0.0.0.0"

// conflicts reports whether h and o cannot both be bound on one node.
func (h hostPort) conflicts(o hostPort) bool {
	return h.port == o.port && h.protocol == o.protocol && (h.ip == anyIP || o.ip == anyIP || h.ip == o.ip)
}

// containerHostPorts appends to dst the host ports of pod's containers, as kube-scheduler
// counts them (regular containers only).
func containerHostPorts(dst []hostPort, pod *corev1.Pod) []hostPort {
	for i := range pod.Spec.Containers {
		for _, cp := range pod.Spec.Containers[i].Ports {
			if cp.HostPort <= 0 {
				continue
			}
			h := hostPort{ip: cp.HostIP, protocol: cp.Protocol, port: cp.HostPort}
			if h.ip == "" {
				h.ip = anyIP
			}
			if h.protocol == "" {
				h.protocol = corev1.ProtocolTCP
			}
			dst = append(dst, h)
		}
	}
	return dst
}

// ControllerUID returns the UID of pod's controller, or "" when it has none: what NodeInfo
// counts a pod under for spreading.
func ControllerUID(pod *corev1.Pod) types.UID {
	for i := range pod.OwnerReferences {
		if r := &pod.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}

// podFacts is what Place derives from the pod once, before looking at nodes.
type podFacts struct {
	pod *corev1.Pod
	// req are the pod's requests; nonZero counts missing cpu and memory requests as the
	// scoring defaults.
	req, nonZero resources
	scalars      []corev1.ResourceName
	hostPorts    []hostPort
	owner        types.UID
	// required is the pod's required node affinity, nil when it has none.
	required *nodeSelector
	// nodeNames restricts the pod to these nodes when non-nil (NodeAffinity pre-filter).
	nodeNames map[string]struct{}
	// conflict is set when the required terms name no node in common.
	conflict  bool
	preferred []preferredTerm
}

// newPodFacts derives podFacts from pod.
func newPodFacts(pod *corev1.Pod) *podFacts {
	p := &podFacts{
		pod:       pod,
		req:       podRequests(pod, false),
		nonZero:   podRequests(pod, true),
		hostPorts: containerHostPorts(nil, pod),
		owner:     ControllerUID(pod),
	}
	p.scalars = p.req.scalarNames()
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		if ns := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; ns != nil {
			p.required = parseNodeSelector(ns)
			p.nodeNames = requiredNodeNames(ns)
			p.conflict = p.nodeNames != nil && len(p.nodeNames) == 0
		}
		p.preferred = parsePreferred(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	return p
}

// candidate is a node that passed every filter, with what scoring needs.
type candidate struct {
	totals *nodeTotals
	node   *corev1.Node
	// allocatable and requested (before the pod) cpu and memory.
	allocCPU, allocMem int64
	reqCPU, reqMem     int64
	nzCPU, nzMem       int64
	// zone is the node's zone, empty when it has none.
	zone zone
	// raw scores before normalisation.
	affinity, untolerated, siblings int64
	total                           int64
}

// quantity returns list[name] in the units resources uses, 0 when absent.
func quantity(list corev1.ResourceList, name corev1.ResourceName) int64 {
	q, ok := list[name]
	if !ok {
		return 0
	}
	return amount(name, q)
}

// filter runs the filters against n in kube-scheduler's order and returns the candidate,
// or the reasons n was refused.
func (p *podFacts) filter(n *NodeInfo) (candidate, []string) {
	node := n.Node
	if p.nodeNames != nil {
		if _, ok := p.nodeNames[node.Name]; !ok {
			return candidate{}, []string{ReasonNodeAffinityPreFilter}
		}
	}
	if node.Spec.Unschedulable && !tolerates(p.pod.Spec.Tolerations, &unschedulableTaint) {
		return candidate{}, []string{ReasonUnschedulable}
	}
	if p.pod.Spec.NodeName != "" && p.pod.Spec.NodeName != node.Name {
		return candidate{}, []string{ReasonNodeName}
	}
	if t := untoleratedTaint(node, p.pod.Spec.Tolerations); t != nil {
		return candidate{}, []string{reasonTaint(t)}
	}
	if !p.matchesRequired(node) {
		return candidate{}, []string{ReasonNodeAffinity}
	}
	t := n.current()
	if len(p.hostPorts) > 0 && p.portsTaken(t) {
		return candidate{}, []string{ReasonNodePorts}
	}
	c := candidate{
		totals:   t,
		node:     node,
		allocCPU: t.allocCPU,
		allocMem: t.allocMem,
		reqCPU:   t.reqCPU,
		reqMem:   t.reqMem,
		nzCPU:    t.nzCPU,
		nzMem:    t.nzMem,
	}
	if reasons := p.fit(n, t); len(reasons) > 0 {
		return candidate{}, reasons
	}
	return c, nil
}

// matchesRequired reports whether node matches the pod's nodeSelector and required node
// affinity.
func (p *podFacts) matchesRequired(node *corev1.Node) bool {
	for k, v := range p.pod.Spec.NodeSelector {
		if lv, ok := node.Labels[k]; !ok || lv != v {
			return false
		}
	}
	return p.required == nil || p.required.match(node)
}

// portsTaken reports whether a host port the pod asks for is already used on the node of
// t.
func (p *podFacts) portsTaken(t *nodeTotals) bool {
	for _, u := range t.hostPorts {
		for _, want := range p.hostPorts {
			if want.conflicts(u) {
				return true
			}
		}
	}
	return false
}

// fit returns the resources n, whose totals are t, lacks for the pod, in
// NodeResourcesFit's order.
func (p *podFacts) fit(n *NodeInfo, t *nodeTotals) []string {
	var reasons []string
	if int64(t.pods)+1 > t.allocPods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if p.req.isZero() {
		return reasons
	}
	if p.req.milliCPU > 0 && p.req.milliCPU > t.allocCPU-t.reqCPU {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceCPU))
	}
	if p.req.memory > 0 && p.req.memory > t.allocMem-t.reqMem {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceMemory))
	}
	if p.req.ephemeral > 0 && p.req.ephemeral > t.allocEphemeral-t.reqEphemeral {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceEphemeralStorage))
	}
	for _, name := range p.scalars {
		alloc := n.Node.Status.Allocatable
		if p.req.scalar[name] > quantity(alloc, name)-quantity(n.Requested, name) {
			reasons = append(reasons, reasonInsufficient(name))
		}
	}
	return reasons
}
