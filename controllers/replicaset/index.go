package replicaset

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimCandidates returns the pods rs may control: those whose controller reference names
// it (kept or released by the claim) and the orphans of its namespace (adopted when they
// match). Pods controlled by somebody else are left out, as the claim would ignore them.
// Without the index it falls back to every pod of the namespace.
func (c *Controller) claimCandidates(namespace string, uid types.UID) ([]*corev1.Pod, error) {
	if c.podIndex == nil {
		return c.podLister.Pods(namespace).List(labels.Everything())
	}
	owned, err := c.podIndex.Controlled(namespace, uid)
	if err != nil {
		return nil, err
	}
	orphans, err := c.podIndex.Controlled(namespace, "")
	if err != nil {
		return nil, err
	}
	return append(owned, orphans...), nil
}
