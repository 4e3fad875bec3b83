package scheduler

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/cache"

	"github.com/capstan-io/capstan/controllers/scheduler/placement"
)

// The informer handlers only update the queue and the assumed pods; scheduling happens in
// passes, which read everything they need from the listers.

// addPod queues a pending pod and lets the assumed pods see the new version.
func (s *Scheduler) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.assumed.observe(pod)
	if s.nodes != nil && countsOnNode(pod) {
		s.nodes.bound(pod)
	}
	if s.isPending(pod) {
		s.queue.add(pod, false)
	}
}

// updatePod keeps the queue in step with a pod: a pending pod is queued, and retried at
// once when its spec or metadata changed (a status-only update, such as the scheduler's
// own condition, changes nothing); a pod that stopped pending leaves the queue; a bound
// pod that finished frees room, so unschedulable pods are retried.
func (s *Scheduler) updatePod(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	s.assumed.observe(pod)
	s.updateNodeCache(old, pod)
	if s.isPending(pod) {
		s.queue.add(pod, podChanged(old, pod))
	} else if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		s.queue.remove(key)
	}
	if countsOnNode(old) && !countsOnNode(pod) {
		s.queue.moveAll()
	}
}

// deletePod forgets a pod; a bound pod's deletion frees room, so unschedulable pods are
// retried.
func (s *Scheduler) deletePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.assumed.forget(pod.UID)
	s.invalidateNode(pod.Spec.NodeName)
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		s.queue.remove(key)
	}
	if countsOnNode(pod) {
		s.queue.moveAll()
	}
}

// updateNodeCache tells the node cache how an update changed the pods counting on nodes. A
// binding adds the pod to its node. An update that leaves a pod counting on the same node
// under the same controller changes nothing the cache holds: the NodeInfos read a pod's
// requests, host ports and controller, and the first two are immutable. Anything else makes
// the nodes involved rebuild.
func (s *Scheduler) updateNodeCache(old, pod *corev1.Pod) {
	if s.nodes == nil {
		return
	}
	switch before, after := countsOnNode(old), countsOnNode(pod); {
	case !before && !after:
	case !before && after && old.Spec.NodeName == "":
		s.nodes.bound(pod)
	case before && after && old.Spec.NodeName == pod.Spec.NodeName && placement.ControllerUID(old) == placement.ControllerUID(pod):
	default:
		s.nodes.invalidate(old.Spec.NodeName)
		s.nodes.invalidate(pod.Spec.NodeName)
	}
}

// podChanged reports whether anything but the status and bookkeeping metadata changed.
func podChanged(old, pod *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!maps.Equal(old.Labels, pod.Labels) ||
		!maps.Equal(old.Annotations, pod.Annotations) ||
		!equality.Semantic.DeepEqual(old.OwnerReferences, pod.OwnerReferences)
}

// addNode retries unschedulable pods: they may fit on the new node.
func (s *Scheduler) addNode(any) { s.queue.moveAll() }

// updateNode retries unschedulable pods when something placement looks at changed.
func (s *Scheduler) updateNode(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	node, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 || nodeChanged(old, node) {
		s.queue.moveAll()
	}
}

// deleteNode retries unschedulable pods, so that their message counts the nodes left.
func (s *Scheduler) deleteNode(any) { s.queue.moveAll() }

// nodeChanged reports whether a change to a node can change where pods fit: its labels,
// taints, cordon, allocatable resources or readiness. Heartbeat-only updates cannot.
func nodeChanged(old, node *corev1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!maps.Equal(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		readiness(old) != readiness(node)
}

// readiness returns the status of node's Ready condition, "" when it has none.
func readiness(node *corev1.Node) corev1.ConditionStatus {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			return node.Status.Conditions[i].Status
		}
	}
	return ""
}

// invalidateNode tells the node cache that the pods of the node called name changed.
func (s *Scheduler) invalidateNode(name string) {
	if s.nodes != nil {
		s.nodes.invalidate(name)
	}
}
