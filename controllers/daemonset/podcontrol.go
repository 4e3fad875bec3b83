package daemonset

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Event reasons, as Kubernetes' DaemonSet controller records them.
const (
	// ReasonSuccessfulCreate is the event reason for a created pod.
	ReasonSuccessfulCreate = "SuccessfulCreate"
	// ReasonFailedCreate is the event reason for a failed pod creation.
	ReasonFailedCreate = "FailedCreate"
	// ReasonSuccessfulDelete is the event reason for a deleted pod.
	ReasonSuccessfulDelete = "SuccessfulDelete"
	// ReasonFailedDelete is the event reason for a failed pod deletion.
	ReasonFailedDelete = "FailedDelete"
	// ReasonFailedDaemonPod is the event reason for a daemon pod found failed
	// on its node, which the controller deletes to recreate it.
	ReasonFailedDaemonPod = "FailedDaemonPod"
)

// TemplateGenerationLabel is the pod label recording the DaemonSet generation
// a daemon pod was created from (Kubernetes' pod-template-generation).
const TemplateGenerationLabel = "pod-template-generation"

// podControl is the seam through which the controller changes pods: every
// write goes through the client and leaves an event on the DaemonSet. It is
// safe for concurrent use.
type podControl struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

// create creates ds's pod for node, of the template revision hash.
func (p podControl) create(ctx context.Context, ds *appsv1.DaemonSet, node, hash string) error {
	pod := podForNode(ds, node, hash)
	created, err := p.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			p.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		}
		return fmt.Errorf("creating pod for node %s: %w", node, err)
	}
	p.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// delete deletes pod, provided it still has the UID the controller saw.
func (p podControl) delete(ctx context.Context, ds *appsv1.DaemonSet, pod *corev1.Pod) error {
	uid := pod.UID
	err := p.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			p.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
		}
		return err
	}
	p.recorder.Eventf(ds, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", pod.Name)
	return nil
}

// patch applies a strategic-merge patch to a pod (adoption and release).
func (p podControl) patch(ctx context.Context, namespace, name string, data []byte) error {
	_, err := p.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return err
}

// podForNode builds the pod ds runs on node: the template with generateName
// "<ds>-", a controller reference to ds, the labels
// controller-revision-hash=<hash> and pod-template-generation=<generation>,
// the daemon tolerations, and a required node affinity pinning it to node so
// that the scheduler binds it there.
func podForNode(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	t := &ds.Spec.Template
	labels := maps.Clone(t.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[TemplateGenerationLabel] = strconv.FormatInt(templateGeneration(ds), 10)
	if hash != "" {
		labels[appsv1.ControllerRevisionHashLabelKey] = hash
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podNamePrefix(ds.Name),
			Namespace:       ds.Namespace,
			Labels:          labels,
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Spec.Tolerations = withDaemonTolerations(pod.Spec.Tolerations, pod.Spec.HostNetwork)
	pod.Spec.Affinity = pinToNode(pod.Spec.Affinity, node)
	return pod
}

// templateGeneration returns the generation written into daemon pods'
// pod-template-generation label: the DaemonSet's metadata.generation.
func templateGeneration(ds *appsv1.DaemonSet) int64 {
	return ds.Generation
}

// pinToNode returns affinity (modified in place when not nil) with a required
// node affinity that only node satisfies: every required term gets the
// requirement matchFields metadata.name In [node], replacing any matchFields
// on metadata.name it had and keeping its other requirements; without terms,
// the affinity gets that single term.
func pinToNode(affinity *corev1.Affinity, node string) *corev1.Affinity {
	pin := corev1.NodeSelectorRequirement{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil || len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pin}}},
		}
		return affinity
	}
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i := range terms {
		fields := []corev1.NodeSelectorRequirement{pin}
		for _, f := range terms[i].MatchFields {
			if f.Key != metav1.ObjectNameField {
				fields = append(fields, f)
			}
		}
		terms[i].MatchFields = fields
	}
	return affinity
}

// targetNode returns the node a daemon pod is for: its spec.nodeName once
// bound, otherwise the node its metadata.name affinity pins it to; "" when
// neither is set.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// podNamePrefix returns "<name>-" when that is a valid generateName, and name
// otherwise, as Kubernetes does.
func podNamePrefix(name string) string {
	prefix := name + "-"
	if len(validation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return name
	}
	return prefix
}
