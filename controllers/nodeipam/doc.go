// Package nodeipam hands every Node a pod CIDR: a block of the cluster's pod network from which
// the node's agent gives its pods their addresses, as kube-controller-manager's range allocator
// does.
//
// The allocator keeps no state of its own: which blocks are taken is read from the Nodes'
// spec.podCIDRs in the informer cache, plus the blocks this controller assigned and has not yet
// seen in the cache. A block is set once (the API server refuses to change it) and is free again
// when its Node is deleted. Writes are updates carrying the Node's resourceVersion, so an
// assignment computed from a stale cache, or by a deposed leader, fails with a conflict instead
// of handing one block to two nodes.
package nodeipam
