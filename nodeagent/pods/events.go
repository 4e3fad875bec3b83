package pods

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Event reasons, as the kubelet records them.
const (
	reasonPulling            = "Pulling"
	reasonPulled             = "Pulled"
	reasonFailed             = "Failed"
	reasonBackOff            = "BackOff"
	reasonInspectFailed      = "InspectFailed"
	reasonErrImageNeverPull  = "ErrImageNeverPull"
	reasonCreated            = "Created"
	reasonStarted            = "Started"
	reasonKilling            = "Killing"
	reasonUnhealthy          = "Unhealthy"
	reasonFailedMount        = "FailedMount"
	reasonFailedSandbox      = "FailedCreatePodSandBox"
	reasonFailedPostStart    = "FailedPostStartHook"
	reasonFailedPreStop      = "FailedPreStopHook"
	reasonSandboxChanged     = "SandboxChanged"
	reasonFailedKillPod      = "FailedKillPod"
	waitingContainerCreating = "ContainerCreating"
	waitingPodInitializing   = "PodInitializing"
	waitingCrashLoopBackOff  = "CrashLoopBackOff"
	waitingErrImagePull      = "ErrImagePull"
	waitingImagePullBackOff  = "ImagePullBackOff"
	waitingInvalidImageName  = "InvalidImageName"
	waitingErrImageNeverPull = "ErrImageNeverPull"
	waitingConfigError       = "CreateContainerConfigError"
	waitingCreateError       = "CreateContainerError"
	waitingRunError          = "RunContainerError"
)

// event records an event about pod when the Manager has a recorder.
func (m *Manager) event(pod *corev1.Pod, eventType, reason, format string, args ...any) {
	if m.cfg.Recorder == nil || pod == nil {
		return
	}
	m.cfg.Recorder.Eventf(pod, eventType, reason, format, args...)
}

// containerEvent records an event about one container of pod, with the field path the kubelet
// sets (spec.containers{name}).
func (m *Manager) containerEvent(pod *corev1.Pod, c *corev1.Container, eventType, reason, format string, args ...any) {
	if m.cfg.Recorder == nil || pod == nil {
		return
	}
	ref := &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: fieldPath(pod, c),
	}
	m.cfg.Recorder.Eventf(ref, eventType, reason, format, args...)
}

// fieldPath returns spec.containers{name} or spec.initContainers{name}.
func fieldPath(pod *corev1.Pod, c *corev1.Container) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			return fmt.Sprintf("spec.initContainers{%s}", c.Name)
		}
	}
	return fmt.Sprintf("spec.containers{%s}", c.Name)
}

// formatPod renders a pod as the kubelet does in messages: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
