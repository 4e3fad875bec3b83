package podstate

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// pod returns a pod in phase whose Ready condition has status ready and last
// transitioned at since (no condition when ready is "").
func pod(phase corev1.PodPhase, ready corev1.ConditionStatus, since time.Time) *corev1.Pod {
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: phase}}
	if ready != "" {
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(since)},
		}
	}
	return p
}

func TestIsActive(t *testing.T) {
	deleting := pod(corev1.PodRunning, corev1.ConditionTrue, now)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{name: "pending", pod: pod(corev1.PodPending, "", now), want: true},
		{name: "running", pod: pod(corev1.PodRunning, corev1.ConditionTrue, now), want: true},
		{name: "unknown", pod: pod(corev1.PodUnknown, "", now), want: true},
		{name: "succeeded", pod: pod(corev1.PodSucceeded, "", now), want: false},
		{name: "failed", pod: pod(corev1.PodFailed, "", now), want: false},
		{name: "being deleted", pod: deleting, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsActive(tt.pod); got != tt.want {
				t.Errorf("IsActive() = %v; want %v", got, tt.want)
			}
		})
	}
	if got := len(FilterActive([]*corev1.Pod{tests[0].pod, tests[3].pod, deleting, tests[1].pod})); got != 2 {
		t.Errorf("len(FilterActive(...)) = %d; want 2", got)
	}
}

func TestAvailability(t *testing.T) {
	tests := []struct {
		name          string
		pod           *corev1.Pod
		minReady      int32
		wantReady     bool
		wantAvailable bool
		wantWait      time.Duration
		wantWaitOK    bool
	}{
		{name: "no condition", pod: pod(corev1.PodPending, "", now), minReady: 0},
		{name: "not ready", pod: pod(corev1.PodRunning, corev1.ConditionFalse, now.Add(-time.Hour)), minReady: 0},
		{name: "ready, no minReadySeconds", pod: pod(corev1.PodRunning, corev1.ConditionTrue, now), wantReady: true, wantAvailable: true},
		{name: "ready long enough", pod: pod(corev1.PodRunning, corev1.ConditionTrue, now.Add(-11*time.Second)), minReady: 10, wantReady: true, wantAvailable: true},
		{name: "ready exactly minReadySeconds: not yet", pod: pod(corev1.PodRunning, corev1.ConditionTrue, now.Add(-10*time.Second)), minReady: 10, wantReady: true, wantWait: time.Second, wantWaitOK: true},
		{name: "ready 3.5s of 10s", pod: pod(corev1.PodRunning, corev1.ConditionTrue, now.Add(-3500*time.Millisecond)), minReady: 10, wantReady: true, wantWait: 7 * time.Second, wantWaitOK: true},
		{name: "ready without transition time", pod: pod(corev1.PodRunning, corev1.ConditionTrue, time.Time{}), minReady: 10, wantReady: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsReady(tt.pod); got != tt.wantReady {
				t.Errorf("IsReady() = %v; want %v", got, tt.wantReady)
			}
			if got := IsAvailable(tt.pod, tt.minReady, now); got != tt.wantAvailable {
				t.Errorf("IsAvailable(%d) = %v; want %v", tt.minReady, got, tt.wantAvailable)
			}
			wait, ok := UntilAvailable(tt.pod, tt.minReady, now)
			if wait != tt.wantWait || ok != tt.wantWaitOK {
				t.Errorf("UntilAvailable(%d) = %v, %v; want %v, %v", tt.minReady, wait, ok, tt.wantWait, tt.wantWaitOK)
			}
			if ok && !IsAvailable(tt.pod, tt.minReady, now.Add(wait)) {
				t.Errorf("IsAvailable at now+%v = false; want true", wait)
			}
		})
	}
}
