package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// ComputeHash returns the pod-template-hash of template for a Deployment
// whose status.collisionCount is collisionCount. It is Kubernetes' algorithm,
// so a template hashes to the same value as on Kubernetes v1.32: FNV-32a over
// the template's deterministic dump, followed by the collision count as eight
// little-endian bytes when it is set, rendered in the safe alphabet of
// rand.SafeEncodeString.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// cloneAndAddLabel returns a copy of labels with key set to value.
func cloneAndAddLabel(labels map[string]string, key, value string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = make(map[string]string, 1)
	}
	out[key] = value
	return out
}

// cloneSelectorAndAddLabel returns a copy of selector that also requires
// key=value.
func cloneSelectorAndAddLabel(selector *metav1.LabelSelector, key, value string) *metav1.LabelSelector {
	out := &metav1.LabelSelector{}
	if selector != nil {
		out = selector.DeepCopy()
	}
	out.MatchLabels = cloneAndAddLabel(out.MatchLabels, key, value)
	return out
}
