package podstate

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// IsActive reports whether pod still counts towards its owner's replicas:
// its phase is neither Succeeded nor Failed and it is not being deleted.
func IsActive(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded &&
		pod.Status.Phase != corev1.PodFailed &&
		pod.DeletionTimestamp == nil
}

// FilterActive returns the active pods of pods, in their original order.
// The returned slice is new; the pods themselves are shared with the input.
func FilterActive(pods []*corev1.Pod) []*corev1.Pod {
	active := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if IsActive(p) {
			active = append(active, p)
		}
	}
	return active
}

// ReadyCondition returns pod's Ready condition, or nil when it has none.
// The returned pointer aliases pod's status and must not be modified.
func ReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	c := ReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// ReadySince returns the time pod's Ready condition last became True. It
// returns the zero time when pod is not ready or the transition time is unset.
func ReadySince(pod *corev1.Pod) time.Time {
	c := ReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return time.Time{}
	}
	return c.LastTransitionTime.Time
}

// IsAvailable reports whether pod is ready and, when minReadySeconds is
// positive, has been ready for strictly longer than minReadySeconds at now.
// A ready pod without a transition time is never available when
// minReadySeconds is positive, as in Kubernetes.
func IsAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsReady(pod) {
		return false
	}
	if minReadySeconds <= 0 {
		return true
	}
	since := ReadySince(pod)
	if since.IsZero() {
		return false
	}
	return since.Add(time.Duration(minReadySeconds) * time.Second).Before(now)
}

// UntilAvailable returns how long after now a ready but not yet available pod
// becomes available, and true. It returns 0 and false when pod is not ready,
// is already available, or can never become available because its Ready
// condition has no transition time. Availability needs a strict "after", so
// the returned duration is rounded up to the next whole second past the
// boundary; requeueing after it is guaranteed to observe the pod available.
func UntilAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	if !IsReady(pod) || IsAvailable(pod, minReadySeconds, now) {
		return 0, false
	}
	since := ReadySince(pod)
	if since.IsZero() {
		return 0, false
	}
	boundary := since.Add(time.Duration(minReadySeconds) * time.Second)
	wait := boundary.Sub(now)
	if wait < 0 {
		wait = 0
	}
	return wait.Truncate(time.Second) + time.Second, true
}
