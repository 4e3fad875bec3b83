package scheduler

import (
	"context"
	"fmt"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// maxEventMessage is the longest event message, as kube-scheduler truncates them.
const maxEventMessage = 1024

// truncate shortens msg to maxEventMessage bytes, ending it with " ..." when cut.
func truncate(msg string) string {
	if len(msg) <= maxEventMessage {
		return msg
	}
	const suffix = " ..."
	cut := maxEventMessage - len(suffix)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + suffix
}

// reportUnschedulable records a Warning FailedScheduling event with msg and sets pod's
// PodScheduled condition to False, reason Unschedulable, message msg, unless it already
// says so. The status write carries the pod's resourceVersion; a conflict or a deleted pod
// is not an error (the pod is looked at again on its next attempt).
func (s *Scheduler) reportUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s", truncate(msg))
	var current *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			current = &pod.Status.Conditions[i]
			break
		}
	}
	if current != nil && current.Status == corev1.ConditionFalse && current.Reason == corev1.PodReasonUnschedulable && current.Message == msg {
		return nil
	}
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             corev1.PodReasonUnschedulable,
		Message:            msg,
		LastTransitionTime: metav1.NewTime(s.opts.Clock.Now()),
	}
	if current != nil && current.Status == corev1.ConditionFalse {
		cond.LastTransitionTime = current.LastTransitionTime
		cond.LastProbeTime = current.LastProbeTime
	}
	updated := pod.DeepCopy()
	replaced := false
	for i := range updated.Status.Conditions {
		if updated.Status.Conditions[i].Type == corev1.PodScheduled {
			updated.Status.Conditions[i] = cond
			replaced = true
			break
		}
	}
	if !replaced {
		updated.Status.Conditions = append(updated.Status.Conditions, cond)
	}
	_, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		klog.FromContext(ctx).V(4).Info("Pod changed before its Unschedulable condition was written", "pod", klog.KObj(pod), "err", err)
		return nil
	default:
		return fmt.Errorf("scheduler: setting PodScheduled condition of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
}
