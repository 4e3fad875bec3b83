// Package placement is the pure placement algorithm of Capstan's scheduler: given a pod and
// the nodes with what is already placed on them, Place picks the node the pod should run on,
// or returns a *FitError that says why every node was refused. It does no I/O, reads no
// clock and keeps no state, so a caller can run it against any snapshot, including one it
// updates between calls to account for pods it has placed but not yet bound.
//
// The semantics follow kube-scheduler's default profile (v1.32), plugin by plugin.
//
// Filters run in kube-scheduler's order; a node is refused by the first one that fails, and
// NodeResourcesFit reports every insufficient resource at once:
//
//   - NodeAffinity's pre-filter: when every required node-affinity term names nodes with
//     matchFields metadata.name In (as DaemonSet pods do), nodes outside those names are
//     refused with "node(s) didn't satisfy plugin(s) [NodeAffinity]"; terms whose name sets
//     do not intersect refuse the pod outright ("pod affinity terms conflict").
//   - NodeUnschedulable: a cordoned node (spec.unschedulable) unless the pod tolerates
//     node.kubernetes.io/unschedulable:NoSchedule.
//   - NodeName: when spec.nodeName is set, every other node.
//   - TaintToleration: the first NoSchedule or NoExecute taint the pod does not tolerate. A
//     node whose Ready condition is not True carries, in addition to its own taints, the
//     taint Kubernetes' node lifecycle controller would add: node.kubernetes.io/not-ready
//     (Ready False or missing) or node.kubernetes.io/unreachable (Ready Unknown), both
//     NoSchedule.
//   - NodeAffinity: spec.nodeSelector and the required node-affinity terms (matchExpressions
//     with In, NotIn, Exists, DoesNotExist, Gt, Lt; matchFields on metadata.name with In and
//     NotIn). An empty or invalid term matches no node.
//   - NodePorts: a host port (hostIP, protocol, port) already used on the node; 0.0.0.0 or an
//     empty hostIP conflicts with every address.
//   - NodeResourcesFit: the number of pods against allocatable pods, then cpu, memory,
//     ephemeral-storage and extended resources the pod requests against allocatable minus
//     what is already requested. A pod's requests are computed as Kubernetes does (see
//     PodRequests): regular containers and restartable init containers (sidecars) add up,
//     an ordinary init container needs its own requests plus the sidecars started before it,
//     the pod needs the larger of the two, plus spec.overhead.
//
// Feasible nodes are scored, each score on 0..MaxNodeScore, and the weighted scores summed
// with the default profile's weights:
//
//   - TaintToleration (weight 3): fewer PreferNoSchedule taints the pod does not tolerate.
//   - NodeAffinity (weight 2): the sum of the weights of the preferred terms the node
//     matches, scaled so that the best node scores MaxNodeScore.
//   - Spreading (weight 2): fewer pods with the same controller (ownerReference UID) on the
//     node, and, when nodes carry topology.kubernetes.io/zone labels, in its zone (zone
//     counts weigh 2/3, as in the SelectorSpread plugin).
//   - NodeResourcesFit LeastAllocated (weight 1): the free share of cpu and memory after
//     placing the pod, weighted 1:1. Containers that request no cpu or memory count as
//     requesting 100m and 200Mi here, and only here.
//   - NodeResourcesBalancedAllocation (weight 1): how close the cpu and memory shares are to
//     each other after placing the pod. Best-effort pods (no cpu or memory request) are not
//     scored by it, as in Kubernetes 1.33.
//
// Ties are broken by node name: among the nodes with the highest total, Place returns the
// one whose name sorts first. Kubernetes picks one at random; a fixed rule keeps results
// reproducible, at the cost of filling nodes with low names first when scores are equal.
//
// Place examines and scores every node. PlaceWithOptions samples as kube-scheduler does
// (percentageOfNodesToScore): it examines nodes from a start index, wrapping around, and
// stops once it has found the wanted number of feasible nodes (adaptive by default: 50% of
// the nodes minus one point per 125 nodes, at least 5% and at least 100 nodes), scoring only
// those; a pod that fits nowhere is still checked against every node.
//
// What kube-scheduler does and Place does not: it has no volume, inter-pod affinity, topology-spread
// constraint, image-locality or dynamic-resource plugins, spreads by controller UID rather
// than by the selectors of the pod's Services and controllers, ignores pod-level resources
// and in-place resize (both feature-gated off in v1.32), and never preempts.
package placement
