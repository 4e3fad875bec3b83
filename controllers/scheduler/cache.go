package scheduler

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
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
// pods the informer shows on it, so that a pass rebuilds only the NodeInfos of nodes whose
// pods or Node object changed since the previous pass rather than all of them. The event
// handlers mark nodes dirty; the informer's indexer is updated before handlers are called,
// so a node marked dirty is rebuilt from an index that already holds the change, and a
// change that lands after a rebuild marks the node dirty again. Cached NodeInfos are never
// changed: a pass clones one before it adds pods to it.
type nodeCache struct {
	indexer cache.Indexer

	mu sync.Mutex // protects dirty
	// dirty holds the names of nodes whose pods changed since the last pass.
	dirty map[string]bool

	// entries are the cached NodeInfos by node name; only the pass (which holds the
	// scheduler's passes token) reads and replaces them.
	entries map[string]cachedNode
}

// cachedNode is the NodeInfo of one version of a Node.
type cachedNode struct {
	node *corev1.Node
	info *placement.NodeInfo
}

// newNodeCache indexes informer's pods by node and returns a cache over them.
func newNodeCache(informer cache.SharedIndexInformer) (*nodeCache, error) {
	if _, ok := informer.GetIndexer().GetIndexers()[podNodeIndex]; !ok {
		if err := informer.AddIndexers(cache.Indexers{podNodeIndex: indexPodByNode}); err != nil {
			return nil, fmt.Errorf("scheduler: adding pod index: %w", err)
		}
	}
	return &nodeCache{indexer: informer.GetIndexer(), dirty: make(map[string]bool), entries: make(map[string]cachedNode)}, nil
}

// invalidate marks the node called name dirty; an empty name is ignored.
func (c *nodeCache) invalidate(name string) {
	if name == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty[name] = true
}

// infos returns the NodeInfos of nodes, in their order, rebuilding those of nodes that are
// dirty, new or changed, and forgetting nodes that are gone. The caller must not modify
// the NodeInfos returned.
func (c *nodeCache) infos(nodes []*corev1.Node) ([]*placement.NodeInfo, error) {
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = make(map[string]bool)
	c.mu.Unlock()

	out := make([]*placement.NodeInfo, len(nodes))
	next := make(map[string]cachedNode, len(nodes))
	for i, n := range nodes {
		e, ok := c.entries[n.Name]
		if !ok || e.node != n || dirty[n.Name] {
			info, err := c.build(n)
			if err != nil {
				c.mu.Lock()
				for name := range dirty {
					c.dirty[name] = true // not rebuilt: still dirty
				}
				c.mu.Unlock()
				return nil, err
			}
			e = cachedNode{node: n, info: info}
		}
		next[n.Name] = e
		out[i] = e.info
	}
	c.entries = next
	return out, nil
}

// build returns the NodeInfo of node with the bound, non-terminal pods the index shows on it.
func (c *nodeCache) build(node *corev1.Node) (*placement.NodeInfo, error) {
	objs, err := c.indexer.ByIndex(podNodeIndex, node.Name)
	if err != nil {
		return nil, fmt.Errorf("scheduler: listing the pods of node %s: %w", node.Name, err)
	}
	info := placement.NewNodeInfo(node)
	for _, obj := range objs {
		if p, ok := obj.(*corev1.Pod); ok && !isTerminal(p) {
			info.AddPod(p)
		}
	}
	return info, nil
}
