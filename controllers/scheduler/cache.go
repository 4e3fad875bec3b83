package scheduler

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/capstan-io/capstan/controllers/scheduler/placement"
)

// podNodeIndex names the pod informer index that maps a node name to the pods bound to it.
const podNodeIndex = "scheduler.capstan.io/node-name"

// indexPodByNode is the index function of podNodeIndex; unbound pods are not indexed.
func indexPodByNode(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// nodeCache keeps, between passes, the NodeInfo of every node with the bound, non-terminal
// pods the informer shows on it, so that a pass does not rebuild the NodeInfos of all nodes.
// The event handlers tell it what changed. A pod newly bound to a node is the common case
// (every binding makes one): it is added to a copy of the node's cached NodeInfo. Any other
// change to the pods that count on a node (a deletion, a pod finishing, a new controller)
// marks the node dirty, and the pass rebuilds its NodeInfo from the pod index. The
// informer's indexer is updated before handlers are called, so a rebuild may already count
// a pod whose event is still on its way: each entry keeps the UIDs of its pods and adds a
// pod once. A change that lands after a rebuild marks the node again. Cached NodeInfos are
// never changed: a pass clones one before it adds pods to it.
type nodeCache struct {
	indexer cache.Indexer

	mu sync.Mutex // protects dirty and added
	// dirty holds the names of nodes whose pods changed since the last pass, other than by
	// new bindings.
	dirty map[string]bool
	// added holds, by node name, the pods bound to nodes that are not dirty since the last
	// pass, in the order the handlers saw them.
	added map[string][]*corev1.Pod

	// entries are the cached NodeInfos by node name; only the pass (which holds the
	// scheduler's passes token) reads and replaces them.
	entries map[string]cachedNode
}

// cachedNode is the NodeInfo of one version of a Node.
type cachedNode struct {
	node *corev1.Node
	info *placement.NodeInfo
	// pods holds the UIDs of info's pods. It belongs to the cache: an entry replaced by one
	// with more pods hands its set on.
	pods map[types.UID]bool
}

// with returns e with pods added, those not counted yet and still counting on the node; e
// is left for the old NodeInfo's readers, except for its UID set, which passes on.
func (e cachedNode) with(pods []*corev1.Pod) cachedNode {
	var info *placement.NodeInfo
	for _, p := range pods {
		if e.pods[p.UID] || !countsOnNode(p) {
			continue
		}
		if info == nil {
			info = e.info.Clone()
		}
		info.AddPod(p)
		e.pods[p.UID] = true
	}
	if info != nil {
		e.info = info
	}
	return e
}

// newNodeCache indexes informer's pods by node and returns a cache over them.
func newNodeCache(informer cache.SharedIndexInformer) (*nodeCache, error) {
	if _, ok := informer.GetIndexer().GetIndexers()[podNodeIndex]; !ok {
		if err := informer.AddIndexers(cache.Indexers{podNodeIndex: indexPodByNode}); err != nil {
			return nil, fmt.Errorf("scheduler: adding pod index: %w", err)
		}
	}
	return &nodeCache{
		indexer: informer.GetIndexer(),
		dirty:   make(map[string]bool),
		added:   make(map[string][]*corev1.Pod),
		entries: make(map[string]cachedNode),
	}, nil
}

// invalidate marks the node called name dirty; an empty name is ignored.
func (c *nodeCache) invalidate(name string) {
	if name == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty[name] = true
	delete(c.added, name) // the rebuild counts them
}

// bound records that pod now counts on its node, having not counted on any node before.
func (c *nodeCache) bound(pod *corev1.Pod) {
	name := pod.Spec.NodeName
	if name == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty[name] {
		c.added[name] = append(c.added[name], pod)
	}
}

// infos returns the NodeInfos of nodes, in their order: rebuilt for nodes that are dirty,
// new or changed, extended for nodes with new bindings, as cached for the others. Nodes that
// are gone are forgotten. The caller must not modify the NodeInfos returned.
func (c *nodeCache) infos(nodes []*corev1.Node) ([]*placement.NodeInfo, error) {
	c.mu.Lock()
	dirty, added := c.dirty, c.added
	c.dirty, c.added = make(map[string]bool), make(map[string][]*corev1.Pod)
	c.mu.Unlock()

	out := make([]*placement.NodeInfo, len(nodes))
	next := make(map[string]cachedNode, len(nodes))
	for i, n := range nodes {
		e, ok := c.entries[n.Name]
		switch {
		case !ok || e.node != n || dirty[n.Name]:
			var err error
			if e, err = c.build(n); err != nil {
				c.mu.Lock()
				for name := range dirty {
					c.dirty[name] = true // not rebuilt: still dirty
				}
				for name := range added {
					c.dirty[name] = true // not added: rebuild instead
					delete(c.added, name)
				}
				c.mu.Unlock()
				return nil, err
			}
		case len(added[n.Name]) > 0:
			e = e.with(added[n.Name])
		}
		next[n.Name] = e
		out[i] = e.info
	}
	c.entries = next
	return out, nil
}

// counts reports whether the NodeInfo infos last returned for the node called name counts
// the pod with uid. Only the pass that called infos may call it.
func (c *nodeCache) counts(name string, uid types.UID) bool {
	e, ok := c.entries[name]
	return ok && e.pods[uid]
}

// build returns the entry of node with the bound, non-terminal pods the index shows on it.
func (c *nodeCache) build(node *corev1.Node) (cachedNode, error) {
	objs, err := c.indexer.ByIndex(podNodeIndex, node.Name)
	if err != nil {
		return cachedNode{}, fmt.Errorf("scheduler: listing the pods of node %s: %w", node.Name, err)
	}
	e := cachedNode{node: node, info: placement.NewNodeInfo(node), pods: make(map[types.UID]bool, len(objs))}
	for _, obj := range objs {
		if p, ok := obj.(*corev1.Pod); ok && !isTerminal(p) {
			e.info.AddPod(p)
			e.pods[p.UID] = true
		}
	}
	return e, nil
}
