package tables

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var podsGR = schema.GroupResource{Resource: "pods"}

// Container states used by the pod cases.
func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute),
	}}
}

// restarted returns a last state of a container that ended d ago.
func restarted(d time.Duration) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: "Error", ExitCode: 1, FinishedAt: ago(d),
	}}
}

// status builds a container status.
func status(name string, state corev1.ContainerState, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: state, Ready: ready, RestartCount: restarts}
}

// podWith builds a pod with the named app and init containers.
func podWith(containers, initContainers []string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: objMeta("web")}
	for _, n := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: n, Image: "nginx"})
	}
	for _, n := range initContainers {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: n, Image: "busybox"})
	}
	return pod
}

// phasePod returns a builder of a pod with the named app containers, in phase,
// with statuses as its container statuses.
func phasePod(phase corev1.PodPhase, containers []string, statuses ...corev1.ContainerStatus) func() *corev1.Pod {
	return func() *corev1.Pod {
		pod := podWith(containers, nil)
		pod.Status.Phase = phase
		pod.Status.ContainerStatuses = append([]corev1.ContainerStatus(nil), statuses...)
		return pod
	}
}

func TestPodStatusColumns(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecarPod := func() *corev1.Pod {
		pod := podWith([]string{"app"}, []string{"proxy"})
		pod.Spec.InitContainers[0].RestartPolicy = &always
		return pod
	}
	deleted := ago(time.Second)

	tests := []struct {
		name                    string
		pod                     func() *corev1.Pod
		ready, reason, restarts string
	}{
		{
			name:  "pending unscheduled",
			pod:   phasePod(corev1.PodPending, []string{"app"}),
			ready: "0/1", reason: "Pending", restarts: "0",
		},
		{
			name: "scheduling gated",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Status.Phase = corev1.PodPending
				pod.Status.Conditions = []corev1.PodCondition{{
					Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated,
				}}
				return pod
			},
			ready: "0/1", reason: "SchedulingGated", restarts: "0",
		},
		{
			name:  "container creating",
			pod:   phasePod(corev1.PodPending, []string{"app"}, status("app", waiting("ContainerCreating"), false, 0)),
			ready: "0/1", reason: "ContainerCreating", restarts: "0",
		},
		{
			name:  "image pull back-off",
			pod:   phasePod(corev1.PodPending, []string{"app"}, status("app", waiting("ImagePullBackOff"), false, 0)),
			ready: "0/1", reason: "ImagePullBackOff", restarts: "0",
		},
		{
			name: "running and ready",
			pod: phasePod(corev1.PodRunning, []string{"app", "log"},
				status("app", running(), true, 0),
				status("log", running(), true, 0),
			),
			ready: "2/2", reason: "Running", restarts: "0",
		},
		{
			name: "running, one container not ready",
			pod: phasePod(corev1.PodRunning, []string{"app", "log"},
				status("app", running(), false, 0),
				status("log", running(), true, 0),
			),
			ready: "1/2", reason: "Running", restarts: "0",
		},
		{
			name:  "completed",
			pod:   phasePod(corev1.PodSucceeded, []string{"app"}, status("app", terminated("Completed", 0, 0), false, 0)),
			ready: "0/1", reason: "Completed", restarts: "0",
		},
		{
			name:  "error",
			pod:   phasePod(corev1.PodFailed, []string{"app"}, status("app", terminated("Error", 1, 0), false, 0)),
			ready: "0/1", reason: "Error", restarts: "0",
		},
		{
			name:  "oom killed",
			pod:   phasePod(corev1.PodRunning, []string{"app"}, status("app", terminated("OOMKilled", 137, 0), false, 1)),
			ready: "0/1", reason: "OOMKilled", restarts: "1",
		},
		{
			name:  "terminated without reason shows the exit code",
			pod:   phasePod(corev1.PodFailed, []string{"app"}, status("app", terminated("", 2, 0), false, 0)),
			ready: "0/1", reason: "ExitCode:2", restarts: "0",
		},
		{
			name:  "terminated without reason shows the signal",
			pod:   phasePod(corev1.PodFailed, []string{"app"}, status("app", terminated("", 137, 9), false, 0)),
			ready: "0/1", reason: "Signal:9", restarts: "0",
		},
		{
			name: "crash loop with last restart",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Status.Phase = corev1.PodRunning
				cs := status("app", waiting("CrashLoopBackOff"), false, 3)
				cs.LastTerminationState = restarted(5 * time.Minute)
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
				return pod
			},
			ready: "0/1", reason: "CrashLoopBackOff", restarts: "3 (5m ago)",
		},
		{
			name: "restarts summed, latest restart wins",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app", "log"}, nil)
				pod.Status.Phase = corev1.PodRunning
				app := status("app", running(), true, 2)
				app.LastTerminationState = restarted(3 * time.Hour)
				log := status("log", running(), true, 1)
				log.LastTerminationState = restarted(90 * time.Second)
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{app, log}
				return pod
			},
			ready: "2/2", reason: "Running", restarts: "3 (90s ago)",
		},
		{
			name:  "restarts without a last termination time",
			pod:   phasePod(corev1.PodRunning, []string{"app"}, status("app", running(), true, 2)),
			ready: "1/1", reason: "Running", restarts: "2",
		},
		{
			name: "first container's reason wins",
			pod: phasePod(corev1.PodRunning, []string{"app", "log"},
				status("app", waiting("CrashLoopBackOff"), false, 0),
				status("log", terminated("Error", 1, 0), false, 0),
			),
			ready: "0/2", reason: "CrashLoopBackOff", restarts: "0",
		},
		{
			name: "completed container beside a running one, pod ready",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app", "job"}, nil)
				pod.Status.Phase = corev1.PodRunning
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{
					status("app", running(), true, 0),
					status("job", terminated("Completed", 0, 0), false, 0),
				}
				return pod
			},
			ready: "1/2", reason: "Running", restarts: "0",
		},
		{
			name: "completed container beside a running one, pod not ready",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app", "job"}, nil)
				pod.Status.Phase = corev1.PodRunning
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{
					status("app", running(), true, 0),
					status("job", terminated("Completed", 0, 0), false, 0),
				}
				return pod
			},
			ready: "1/2", reason: "NotReady", restarts: "0",
		},
		{
			name: "evicted",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Status.Phase = corev1.PodFailed
				pod.Status.Reason = "Evicted"
				return pod
			},
			ready: "0/1", reason: "Evicted", restarts: "0",
		},
		{
			name: "terminating",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.DeletionTimestamp = &deleted
				pod.Status.Phase = corev1.PodRunning
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", running(), true, 0)}
				return pod
			},
			ready: "1/1", reason: "Terminating", restarts: "0",
		},
		{
			name: "completed pod being deleted stays completed",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.DeletionTimestamp = &deleted
				pod.Status.Phase = corev1.PodSucceeded
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", terminated("Completed", 0, 0), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Completed", restarts: "0",
		},
		{
			name: "node lost",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Status.Phase = corev1.PodRunning
				pod.Status.Reason = "NodeLost"
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", running(), true, 0)}
				return pod
			},
			ready: "1/1", reason: "NodeLost", restarts: "0",
		},
		{
			name: "node lost while deleting",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.DeletionTimestamp = &deleted
				pod.Status.Phase = corev1.PodRunning
				pod.Status.Reason = "NodeLost"
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", running(), true, 0)}
				return pod
			},
			ready: "1/1", reason: "Unknown", restarts: "0",
		},
		{
			name: "init container running",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", running(), false, 0)}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:0/1", restarts: "0",
		},
		{
			name: "init container waiting to initialize",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", waiting("PodInitializing"), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:0/1", restarts: "0",
		},
		{
			name: "second of two init containers running",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"a", "b"})
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
					status("a", terminated("Completed", 0, 0), false, 0),
					status("b", running(), false, 0),
				}
				return pod
			},
			ready: "0/1", reason: "Init:1/2", restarts: "0",
		},
		{
			name: "init container failed",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodFailed
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", terminated("Error", 1, 0), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:Error", restarts: "0",
		},
		{
			name: "init container exit code",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", terminated("", 3, 0), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:ExitCode:3", restarts: "0",
		},
		{
			name: "init container signal",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", terminated("", 137, 9), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:Signal:9", restarts: "0",
		},
		{
			name: "init container crash loop counts its restarts",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				cs := status("setup", waiting("CrashLoopBackOff"), false, 4)
				cs.LastTerminationState = restarted(2 * time.Minute)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{cs}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)}
				return pod
			},
			ready: "0/1", reason: "Init:CrashLoopBackOff", restarts: "4 (2m ago)",
		},
		{
			name: "initialized, app container starting",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, []string{"setup"})
				pod.Status.Phase = corev1.PodPending
				setup := status("setup", terminated("Completed", 0, 0), false, 1)
				setup.LastTerminationState = restarted(time.Hour)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{setup}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)}
				return pod
			},
			// Restarts of finished init containers are not counted once the pod is initialized.
			ready: "0/1", reason: "PodInitializing", restarts: "0",
		},
		{
			name: "sidecar and app running",
			pod: func() *corev1.Pod {
				pod := sidecarPod()
				pod.Status.Phase = corev1.PodRunning
				proxy := status("proxy", running(), true, 1)
				proxy.Started = ptr(true)
				proxy.LastTerminationState = restarted(10 * time.Minute)
				app := status("app", running(), true, 2)
				app.LastTerminationState = restarted(20 * time.Minute)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{proxy}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{app}
				return pod
			},
			ready: "2/2", reason: "Running", restarts: "3 (10m ago)",
		},
		{
			name: "sidecar not started yet",
			pod: func() *corev1.Pod {
				pod := sidecarPod()
				pod.Status.Phase = corev1.PodPending
				proxy := status("proxy", running(), false, 0)
				proxy.Started = ptr(false)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{proxy}
				return pod
			},
			ready: "0/2", reason: "Init:0/1", restarts: "0",
		},
		{
			name: "sidecar started but not ready",
			pod: func() *corev1.Pod {
				pod := sidecarPod()
				pod.Status.Phase = corev1.PodRunning
				proxy := status("proxy", running(), false, 0)
				proxy.Started = ptr(true)
				pod.Status.InitContainerStatuses = []corev1.ContainerStatus{proxy}
				pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", running(), true, 0)}
				return pod
			},
			ready: "1/2", reason: "Running", restarts: "0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, podsGR, tt.pod(), map[string]any{
				"Ready": tt.ready, "Status": tt.reason, "Restarts": tt.restarts,
			})
		})
	}
}

func TestPodWideColumns(t *testing.T) {
	tests := []struct {
		name string
		pod  func() *corev1.Pod
		want map[string]any
	}{
		{
			name: "unscheduled",
			pod:  func() *corev1.Pod { return podWith([]string{"app"}, nil) },
			want: map[string]any{
				"Name": "web", "Age": "60m", "IP": "<none>", "Node": "<none>",
				"Nominated Node": "<none>", "Readiness Gates": "<none>",
			},
		},
		{
			name: "scheduled with IPs and gates",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Spec.NodeName = "node-1"
				pod.Status.NominatedNodeName = "node-2"
				pod.Status.PodIP = "10.0.0.9"
				pod.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.7"}, {IP: "fd00::7"}}
				pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}}
				pod.Status.Conditions = []corev1.PodCondition{
					{Type: "a", Status: corev1.ConditionTrue},
					{Type: "b", Status: corev1.ConditionFalse},
				}
				return pod
			},
			want: map[string]any{
				"IP": "10.0.0.7", "Node": "node-1", "Nominated Node": "node-2", "Readiness Gates": "1/2",
			},
		},
		{
			name: "pod IP without pod IPs",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.Status.PodIP = "10.0.0.9"
				return pod
			},
			want: map[string]any{"IP": "10.0.0.9"},
		},
		{
			name: "zero creation time",
			pod: func() *corev1.Pod {
				pod := podWith([]string{"app"}, nil)
				pod.CreationTimestamp = metav1.Time{}
				return pod
			},
			want: map[string]any{"Age": "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, podsGR, tt.pod(), tt.want)
		})
	}
}

func TestPodRowConditions(t *testing.T) {
	tests := []struct {
		phase corev1.PodPhase
		want  []metav1.TableRowCondition
	}{
		{phase: corev1.PodRunning, want: nil},
		{phase: corev1.PodSucceeded, want: []metav1.TableRowCondition{{
			Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully.",
		}}},
		{phase: corev1.PodFailed, want: []metav1.TableRowCondition{{
			Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed.",
		}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase), func(t *testing.T) {
			pod := podWith([]string{"app"}, nil)
			pod.Status.Phase = tt.phase
			row := convertOne(t, podsGR, pod)
			if diff := cmp.Diff(tt.want, row.Conditions); diff != "" {
				t.Errorf("conditions of a %s pod mismatch (-want +got):\n%s", tt.phase, diff)
			}
		})
	}
}
