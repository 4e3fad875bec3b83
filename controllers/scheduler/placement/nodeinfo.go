package placement

import (
	"maps"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// The requests Kubernetes assumes, for scoring only, of a container that requests no cpu or
// no memory (kube-scheduler's DefaultMilliCPURequest and DefaultMemoryRequest).
const (
	// DefaultMilliCPURequest is the cpu, in millicores, a container without a cpu request
	// counts for in LeastAllocated scoring.
	DefaultMilliCPURequest int64 = 100
	// DefaultMemoryRequest is the memory, in bytes, a container without a memory request
	// counts for in LeastAllocated scoring.
	DefaultMemoryRequest int64 = 200 * 1024 * 1024
)

// NodeInfo is a node with what is already placed on it. Place only reads it. Build it with
// NewNodeInfo and change it only with AddPod: such a NodeInfo carries precomputed totals
// that make Place fast. Place also accepts a NodeInfo built or changed otherwise, at the
// cost of recomputing its totals on every call.
type NodeInfo struct {
	// Node is the node. Entries with a nil Node are skipped.
	Node *corev1.Node
	// Requested is the sum of the requests of Pods, as PodRequests computes them. The
	// number of pods is len(Pods); a "pods" entry here is ignored.
	Requested corev1.ResourceList
	// NonZeroRequested is the cpu and memory of Pods as LeastAllocated scoring counts them:
	// like Requested, except that containers requesting no cpu or no memory count for
	// DefaultMilliCPURequest and DefaultMemoryRequest. When nil, Requested is used.
	NonZeroRequested corev1.ResourceList
	// Pods are the pods placed on the node, bound or assumed. Their host ports are checked
	// against the pod's and their controllers count for spreading.
	Pods []*corev1.Pod

	// totals are NewNodeInfo's and AddPod's running sums of the fields above, so that Place
	// need not recompute them; a NodeInfo built otherwise, or changed other than by AddPod,
	// has them recomputed by every Place.
	totals *nodeTotals
}

// nodeTotals are what Place reads of a NodeInfo, as plain numbers.
type nodeTotals struct {
	// node and pods are the Node and len(Pods) the totals describe: they are stale when the
	// NodeInfo's differ.
	node *corev1.Node
	pods int
	// allocatable cpu (millicores), memory, ephemeral storage and pods of the node.
	allocCPU, allocMem, allocEphemeral, allocPods int64
	// requested cpu (millicores), memory and ephemeral storage of the pods, and their cpu
	// and memory with missing requests counted as the scoring defaults.
	reqCPU, reqMem, reqEphemeral int64
	nzCPU, nzMem                 int64
	// owners counts the pods by controller UID; pods without a controller are not counted.
	owners map[types.UID]int64
	// hostPorts are the host ports the pods use.
	hostPorts []hostPort
	// zone is the node's zone, the zero zone when it has none.
	zone zone
}

// newNodeTotals returns the totals of node without pods.
func newNodeTotals(node *corev1.Node) *nodeTotals {
	t := &nodeTotals{node: node}
	if node != nil {
		alloc := node.Status.Allocatable
		t.allocCPU = quantity(alloc, corev1.ResourceCPU)
		t.allocMem = quantity(alloc, corev1.ResourceMemory)
		t.allocEphemeral = quantity(alloc, corev1.ResourceEphemeralStorage)
		t.allocPods = quantity(alloc, corev1.ResourcePods)
		t.zone = zoneOf(node)
	}
	return t
}

// addPod adds pod, whose requests are req and nonZero, to t.
func (t *nodeTotals) addPod(pod *corev1.Pod, req, nonZero resources) {
	t.pods++
	t.reqCPU += req.milliCPU
	t.reqMem += req.memory
	t.reqEphemeral += req.ephemeral
	t.nzCPU += nonZero.milliCPU
	t.nzMem += nonZero.memory
	if uid := ControllerUID(pod); uid != "" {
		if t.owners == nil {
			t.owners = make(map[types.UID]int64)
		}
		t.owners[uid]++
	}
	t.hostPorts = containerHostPorts(t.hostPorts, pod)
}

// current returns n's totals, computing them from n's fields when n does not carry
// up-to-date ones. It does not modify n.
func (n *NodeInfo) current() *nodeTotals {
	if t := n.totals; t != nil && t.node == n.Node && t.pods == len(n.Pods) {
		return t
	}
	t := newNodeTotals(n.Node)
	t.reqCPU = quantity(n.Requested, corev1.ResourceCPU)
	t.reqMem = quantity(n.Requested, corev1.ResourceMemory)
	t.reqEphemeral = quantity(n.Requested, corev1.ResourceEphemeralStorage)
	nz := n.NonZeroRequested
	if nz == nil {
		nz = n.Requested
	}
	t.nzCPU = quantity(nz, corev1.ResourceCPU)
	t.nzMem = quantity(nz, corev1.ResourceMemory)
	for _, p := range n.Pods {
		if uid := ControllerUID(p); uid != "" {
			if t.owners == nil {
				t.owners = make(map[types.UID]int64)
			}
			t.owners[uid]++
		}
		t.hostPorts = containerHostPorts(t.hostPorts, p)
	}
	t.pods = len(n.Pods)
	return t
}

// NewNodeInfo returns the NodeInfo of node with pods placed on it. The pods are not copied.
func NewNodeInfo(node *corev1.Node, pods ...*corev1.Pod) *NodeInfo {
	n := &NodeInfo{
		Node:             node,
		Requested:        corev1.ResourceList{},
		NonZeroRequested: corev1.ResourceList{},
		Pods:             make([]*corev1.Pod, 0, len(pods)),
		totals:           newNodeTotals(node),
	}
	for _, p := range pods {
		n.AddPod(p)
	}
	return n
}

// AddPod records pod as placed on n: it appends pod to Pods and adds its requests to
// Requested and NonZeroRequested, which it allocates when nil. n's lists must not be shared
// with other NodeInfos or with a Node.
func (n *NodeInfo) AddPod(pod *corev1.Pod) {
	if n.NonZeroRequested == nil {
		n.NonZeroRequested = corev1.ResourceList{}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := n.Requested[name]; ok {
				n.NonZeroRequested[name] = q.DeepCopy()
			}
		}
	}
	if n.Requested == nil {
		n.Requested = corev1.ResourceList{}
	}
	req := podRequests(pod, false)
	nz := podRequests(pod, true)
	if t := n.totals; t != nil && t.node == n.Node && t.pods == len(n.Pods) {
		t.addPod(pod, req, nz)
	}
	n.Pods = append(n.Pods, pod)
	req.addTo(n.Requested)
	addQuantity(n.NonZeroRequested, corev1.ResourceCPU, *resource.NewMilliQuantity(nz.milliCPU, resource.DecimalSI))
	addQuantity(n.NonZeroRequested, corev1.ResourceMemory, *resource.NewQuantity(nz.memory, resource.BinarySI))
}

// PodRequests returns the resources pod requests, as Kubernetes computes them for
// scheduling: the sum of its containers and restartable init containers (sidecars), or the
// largest need of an ordinary init container (its requests plus those of the sidecars
// declared before it) when that is larger, plus spec.overhead. Resources requested by no
// container are absent.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	list := corev1.ResourceList{}
	r := podRequests(pod, false)
	r.addTo(list)
	for name, q := range list {
		if q.IsZero() {
			delete(list, name)
		}
	}
	return list
}

// resources is a set of resource amounts in the units the filters compare: millicores for
// cpu, bytes for memory and ephemeral storage, plain counts for extended resources.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	// scalar holds every other resource (extended resources, hugepages); nil when empty.
	scalar map[corev1.ResourceName]int64
}

// amount returns the value of q in the units resources uses for name.
func amount(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// addList adds every amount of list to r, ignoring the pods count.
func (r *resources) addList(list corev1.ResourceList) {
	for name, q := range list {
		r.addAmount(name, amount(name, q))
	}
}

// addAmount adds v of resource name to r.
func (r *resources) addAmount(name corev1.ResourceName, v int64) {
	switch name {
	case corev1.ResourceCPU:
		r.milliCPU += v
	case corev1.ResourceMemory:
		r.memory += v
	case corev1.ResourceEphemeralStorage:
		r.ephemeral += v
	case corev1.ResourcePods:
	default:
		if r.scalar == nil {
			r.scalar = make(map[corev1.ResourceName]int64)
		}
		r.scalar[name] += v
	}
}

// add adds o to r.
func (r *resources) add(o resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeral += o.ephemeral
	for name, v := range o.scalar {
		r.addAmount(name, v)
	}
}

// setMax raises every amount of r to at least o's.
func (r *resources) setMax(o resources) {
	r.milliCPU = max(r.milliCPU, o.milliCPU)
	r.memory = max(r.memory, o.memory)
	r.ephemeral = max(r.ephemeral, o.ephemeral)
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = make(map[corev1.ResourceName]int64)
		}
		r.scalar[name] = max(r.scalar[name], v)
	}
}

// clone returns a copy of r that shares nothing with it.
func (r resources) clone() resources {
	c := r
	c.scalar = nil
	for name, v := range r.scalar {
		c.addAmount(name, v)
	}
	return c
}

// isZero reports whether r requests nothing.
func (r resources) isZero() bool {
	if r.milliCPU != 0 || r.memory != 0 || r.ephemeral != 0 {
		return false
	}
	for _, v := range r.scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// scalarNames returns the names of r's scalar resources with a non-zero amount, sorted.
func (r resources) scalarNames() []corev1.ResourceName {
	var names []corev1.ResourceName
	for name, v := range r.scalar {
		if v != 0 {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// addTo adds r's amounts to list. cpu, memory and ephemeral storage are always written.
func (r resources) addTo(list corev1.ResourceList) {
	addQuantity(list, corev1.ResourceCPU, *resource.NewMilliQuantity(r.milliCPU, resource.DecimalSI))
	addQuantity(list, corev1.ResourceMemory, *resource.NewQuantity(r.memory, resource.BinarySI))
	addQuantity(list, corev1.ResourceEphemeralStorage, *resource.NewQuantity(r.ephemeral, resource.BinarySI))
	for name, v := range r.scalar {
		addQuantity(list, name, *resource.NewQuantity(v, resource.DecimalSI))
	}
}

// addQuantity adds q to list[name].
func addQuantity(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	if cur, ok := list[name]; ok {
		cur.Add(q)
		list[name] = cur
		return
	}
	list[name] = q
}

// containerRequests returns the requests of one container; with nonZero, a missing cpu or
// memory request counts as the scoring default.
func containerRequests(req corev1.ResourceList, nonZero bool) resources {
	var r resources
	r.addList(req)
	if nonZero {
		if _, ok := req[corev1.ResourceCPU]; !ok {
			r.milliCPU += DefaultMilliCPURequest
		}
		if _, ok := req[corev1.ResourceMemory]; !ok {
			r.memory += DefaultMemoryRequest
		}
	}
	return r
}

// podRequests computes pod's requests as PodRequests documents; with nonZero, containers'
// missing cpu and memory requests count as the scoring defaults.
func podRequests(pod *corev1.Pod, nonZero bool) resources {
	var total resources
	for i := range pod.Spec.Containers {
		total.add(containerRequests(pod.Spec.Containers[i].Resources.Requests, nonZero))
	}
	var sidecars, initPeak resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		need := containerRequests(c.Resources.Requests, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			total.add(need)
			sidecars.add(need)
			need = sidecars.clone()
		} else {
			need.add(sidecars)
		}
		initPeak.setMax(need)
	}
	total.setMax(initPeak)
	total.addList(pod.Spec.Overhead)
	return total
}

// Clone returns a copy of n that AddPod can change without changing n. The node and the
// pods are shared, not copied.
func (n *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{
		Node:             n.Node,
		Requested:        cloneList(n.Requested),
		NonZeroRequested: cloneList(n.NonZeroRequested),
		Pods:             append(make([]*corev1.Pod, 0, len(n.Pods)+1), n.Pods...),
	}
	if t := n.totals; t != nil && t.node == n.Node && t.pods == len(n.Pods) {
		ct := *t
		ct.owners = maps.Clone(t.owners)
		ct.hostPorts = slices.Clone(t.hostPorts)
		c.totals = &ct
	}
	return c
}

// cloneList returns a copy of list, nil when list is nil.
func cloneList(list corev1.ResourceList) corev1.ResourceList {
	if list == nil {
		return nil
	}
	c := make(corev1.ResourceList, len(list))
	for name, q := range list {
		c[name] = q.DeepCopy()
	}
	return c
}
