package placement

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Place picks the best node for pod among nodes and returns its name, or returns a
// *FitError listing why each node was refused. Nodes are filtered and scored as the
// package documentation describes; among the best-scoring nodes the one whose name sorts
// first wins. Place does not modify pod or nodes.
func Place(pod *corev1.Pod, nodes []*NodeInfo) (string, error) {
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
		return "", fe
	}
	feasible := make([]candidate, 0, len(nodes))
	for _, n := range nodes {
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
	switch len(feasible) {
	case 0:
		return "", fe
	case 1:
		return feasible[0].node.Name, nil
	}
	p.score(feasible)
	best := 0
	for i := 1; i < len(feasible); i++ {
		c, b := &feasible[i], &feasible[best]
		if c.total > b.total || (c.total == b.total && c.node.Name < b.node.Name) {
			best = i
		}
	}
	return feasible[best].node.Name, nil
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

// controllerUID returns the UID of pod's controller, or "" when it has none.
func controllerUID(pod *corev1.Pod) types.UID {
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
		owner:     controllerUID(pod),
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
	info *NodeInfo
	node *corev1.Node
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
	if len(p.hostPorts) > 0 && p.portsTaken(n) {
		return candidate{}, []string{ReasonNodePorts}
	}
	c := candidate{
		info:     n,
		node:     node,
		allocCPU: quantity(node.Status.Allocatable, corev1.ResourceCPU),
		allocMem: quantity(node.Status.Allocatable, corev1.ResourceMemory),
		reqCPU:   quantity(n.Requested, corev1.ResourceCPU),
		reqMem:   quantity(n.Requested, corev1.ResourceMemory),
	}
	if reasons := p.fit(n, &c); len(reasons) > 0 {
		return candidate{}, reasons
	}
	nz := n.NonZeroRequested
	if nz == nil {
		nz = n.Requested
	}
	c.nzCPU = quantity(nz, corev1.ResourceCPU)
	c.nzMem = quantity(nz, corev1.ResourceMemory)
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

// portsTaken reports whether a host port the pod asks for is already used on n.
func (p *podFacts) portsTaken(n *NodeInfo) bool {
	var used []hostPort
	for _, other := range n.Pods {
		used = containerHostPorts(used[:0], other)
		for _, u := range used {
			for _, want := range p.hostPorts {
				if want.conflicts(u) {
					return true
				}
			}
		}
	}
	return false
}

// fit returns the resources n lacks for the pod, in NodeResourcesFit's order.
func (p *podFacts) fit(n *NodeInfo, c *candidate) []string {
	var reasons []string
	alloc := n.Node.Status.Allocatable
	if int64(len(n.Pods))+1 > quantity(alloc, corev1.ResourcePods) {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if p.req.isZero() {
		return reasons
	}
	if p.req.milliCPU > 0 && p.req.milliCPU > c.allocCPU-c.reqCPU {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceCPU))
	}
	if p.req.memory > 0 && p.req.memory > c.allocMem-c.reqMem {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceMemory))
	}
	if p.req.ephemeral > 0 &&
		p.req.ephemeral > quantity(alloc, corev1.ResourceEphemeralStorage)-quantity(n.Requested, corev1.ResourceEphemeralStorage) {
		reasons = append(reasons, reasonInsufficient(corev1.ResourceEphemeralStorage))
	}
	for _, name := range p.scalars {
		if p.req.scalar[name] > quantity(alloc, name)-quantity(n.Requested, name) {
			reasons = append(reasons, reasonInsufficient(name))
		}
	}
	return reasons
}
