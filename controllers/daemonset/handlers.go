package daemonset

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// addDaemonSet enqueues a new DaemonSet.
func (c *Controller) addDaemonSet(obj any) {
	if ds, ok := obj.(*appsv1.DaemonSet); ok {
		c.enqueue(ds)
	}
}

// updateDaemonSet enqueues an updated DaemonSet. A changed UID means the old
// DaemonSet was deleted and recreated under the same name between two events,
// so the old one is handled as deleted first.
func (c *Controller) updateDaemonSet(oldObj, curObj any) {
	oldDS, ok1 := oldObj.(*appsv1.DaemonSet)
	curDS, ok2 := curObj.(*appsv1.DaemonSet)
	if !ok1 || !ok2 {
		return
	}
	if oldDS.UID != curDS.UID {
		if key, err := cache.MetaNamespaceKeyFunc(oldDS); err == nil {
			c.deleteDaemonSet(cache.DeletedFinalStateUnknown{Key: key, Obj: oldDS})
		}
	}
	c.enqueue(curDS)
}

// deleteDaemonSet forgets a deleted DaemonSet's expectations and enqueues its
// key.
func (c *Controller) deleteDaemonSet(obj any) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if ds, ok = tombstone.Obj.(*appsv1.DaemonSet); !ok {
			return
		}
	}
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	c.creations.Delete(key)
	c.deletions.Delete(key)
	c.queue.Add(key)
}

// addHistory wakes the DaemonSet that controls a ControllerRevision, or those
// that might adopt an orphan.
func (c *Controller) addHistory(obj any) {
	h, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(h); ref != nil {
		if ds := c.resolveControllerRef(h.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	dss, err := c.dsLister.GetHistoryDaemonSets(h)
	if err != nil {
		return
	}
	for _, ds := range dss {
		c.enqueue(ds)
	}
}

// deleteHistory wakes the DaemonSet that controlled a deleted revision.
func (c *Controller) deleteHistory(obj any) {
	h, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if h, ok = tombstone.Obj.(*appsv1.ControllerRevision); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOfNoCopy(h); ref != nil {
		if ds := c.resolveControllerRef(h.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
	}
}

// addPod observes the creation of a daemon pod, or wakes the DaemonSets that
// might adopt an orphan.
func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// A pod that shows up already terminating is not a creation to observe.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		ds := c.resolveControllerRef(pod.Namespace, ref)
		if ds == nil {
			return
		}
		key, err := cache.MetaNamespaceKeyFunc(ds)
		if err != nil {
			return
		}
		c.creations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

// updatePod wakes the DaemonSets affected by a pod change: its controller,
// its former controller, or those that might adopt it.
func (c *Controller) updatePod(oldObj, curObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	curPod, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || curPod.ResourceVersion == oldPod.ResourceVersion {
		return // a resync, not a change
	}
	labelChanged := !reflect.DeepEqual(curPod.Labels, oldPod.Labels)
	if curPod.DeletionTimestamp != nil {
		c.deletePod(curPod)
		if labelChanged {
			c.deletePod(oldPod)
		}
		return
	}
	curRef := metav1.GetControllerOfNoCopy(curPod)
	oldRef := metav1.GetControllerOfNoCopy(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolveControllerRef(oldPod.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		if ds := c.resolveControllerRef(curPod.Namespace, curRef); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	if labelChanged || refChanged {
		c.enqueueMatching(curPod)
	}
}

// deletePod observes the deletion of a daemon pod.
func (c *Controller) deletePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tombstone.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	ds := c.resolveControllerRef(pod.Namespace, ref)
	if ds == nil {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	c.deletions.DeletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// enqueueMatching enqueues every DaemonSet whose selector matches pod.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	dss, err := c.dsLister.GetPodDaemonSets(pod)
	if err != nil {
		return
	}
	for _, ds := range dss {
		c.enqueue(ds)
	}
}

// addNode enqueues the DaemonSets that should run a pod on a new node.
func (c *Controller) addNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.enqueueForNode(func(ds *appsv1.DaemonSet) bool {
		return shouldRunOn(node, ds).run
	})
}

// updateNode enqueues the DaemonSets whose decision for the node changed.
// Updates that leave the node's name, labels and taints alone cannot change
// a decision and are ignored.
func (c *Controller) updateNode(oldObj, curObj any) {
	oldNode, ok1 := oldObj.(*corev1.Node)
	curNode, ok2 := curObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	if oldNode.Name == curNode.Name && reflect.DeepEqual(oldNode.Labels, curNode.Labels) &&
		reflect.DeepEqual(oldNode.Spec.Taints, curNode.Spec.Taints) {
		return
	}
	c.enqueueForNode(func(ds *appsv1.DaemonSet) bool {
		return shouldRunOn(oldNode, ds) != shouldRunOn(curNode, ds)
	})
}

// deleteNode enqueues the DaemonSets that may have had a pod on a deleted
// node.
func (c *Controller) deleteNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if node, ok = tombstone.Obj.(*corev1.Node); !ok {
			return
		}
	}
	c.enqueueForNode(func(ds *appsv1.DaemonSet) bool {
		d := shouldRunOn(node, ds)
		return d.run || d.keep
	})
}

// enqueueForNode enqueues every DaemonSet for which affected reports true.
func (c *Controller) enqueueForNode(affected func(*appsv1.DaemonSet) bool) {
	dss, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range dss {
		if affected(ds) {
			c.enqueue(ds)
		}
	}
}

// podKey returns the "namespace/name" key expectations track pods by.
func podKey(pod *corev1.Pod) string {
	return pod.Namespace + "/" + pod.Name
}
