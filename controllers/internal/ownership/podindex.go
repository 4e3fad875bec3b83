package ownership

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// podControllerIndex names the pod informer index that maps "namespace/controllerUID" to
// the pods a controller controls, and "namespace/" to the namespace's orphans.
const podControllerIndex = "capstan.io/pod-controller-uid"

// PodIndex finds the pods of a controller in a pod informer's cache without matching every
// pod of the namespace: the ReplicaSet and Deployment controllers read the pods of one owner
// at each sync, and a namespace may hold tens of thousands.
type PodIndex struct {
	indexer cache.Indexer
}

// NewPodIndex adds the controller index to informer, unless an earlier NewPodIndex did, and
// returns a PodIndex over it. Call it before the informer starts.
func NewPodIndex(informer cache.SharedIndexInformer) (*PodIndex, error) {
	if _, ok := informer.GetIndexer().GetIndexers()[podControllerIndex]; !ok {
		if err := informer.AddIndexers(cache.Indexers{podControllerIndex: indexPodByController}); err != nil {
			return nil, fmt.Errorf("adding the pod controller index: %w", err)
		}
	}
	return &PodIndex{indexer: informer.GetIndexer()}, nil
}

// Controlled returns the pods of namespace whose controller reference has uid; an empty uid
// returns the namespace's pods without a controller.
func (x *PodIndex) Controlled(namespace string, uid types.UID) ([]*corev1.Pod, error) {
	objs, err := x.indexer.ByIndex(podControllerIndex, podControllerKey(namespace, uid))
	if err != nil {
		return nil, fmt.Errorf("listing the pods of controller %q in namespace %q: %w", uid, namespace, err)
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok {
			out = append(out, pod)
		}
	}
	return out, nil
}

// podControllerKey returns the index key of the pods controlled by uid in namespace.
func podControllerKey(namespace string, uid types.UID) string {
	return namespace + "/" + string(uid)
}

// indexPodByController is the index function of podControllerIndex.
func indexPodByController(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var uid types.UID
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		uid = ref.UID
	}
	return []string{podControllerKey(pod.Namespace, uid)}, nil
}
