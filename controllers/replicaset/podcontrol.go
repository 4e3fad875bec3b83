package replicaset

import (
	"context"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Event reasons, as Kubernetes' pod control records them.
const (
	// ReasonSuccessfulCreate is the event reason for a created pod.
	ReasonSuccessfulCreate = "SuccessfulCreate"
	// ReasonFailedCreate is the event reason for a failed pod creation.
	ReasonFailedCreate = "FailedCreate"
	// ReasonSuccessfulDelete is the event reason for a deleted pod.
	ReasonSuccessfulDelete = "SuccessfulDelete"
	// ReasonFailedDelete is the event reason for a failed pod deletion.
	ReasonFailedDelete = "FailedDelete"
)

// podControl is the seam through which the controller changes pods: every
// write goes through the client with a precondition and leaves an event on
// the ReplicaSet. It is safe for concurrent use.
type podControl struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

// create creates one pod from rs's template, controlled by rs.
func (p podControl) create(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := podFromTemplate(rs)
	if len(pod.Labels) == 0 {
		return ErrTemplateNoLabels
	}
	created, err := p.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			p.recorder.Eventf(rs, corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		}
		return err
	}
	p.recorder.Eventf(rs, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// delete deletes pod, provided it still has the UID the controller saw.
func (p podControl) delete(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	uid := pod.UID
	err := p.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			p.recorder.Eventf(rs, corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
		}
		return err
	}
	p.recorder.Eventf(rs, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", pod.Name)
	return nil
}

// patch applies a strategic-merge patch to a pod (adoption and release).
func (p podControl) patch(ctx context.Context, namespace, name string, data []byte) error {
	_, err := p.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return err
}

// podFromTemplate builds the pod rs creates: the template's labels,
// annotations, finalizers and spec, generateName "<rs>-" and a controller
// reference to rs.
func podFromTemplate(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := &rs.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    podNamePrefix(rs.Name),
			Namespace:       rs.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod
}

// podNamePrefix returns "<name>-" when that is a valid generateName, and name
// otherwise, as Kubernetes does.
func podNamePrefix(name string) string {
	prefix := fmt.Sprintf("%s-", name)
	if len(validation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return name
	}
	return prefix
}
