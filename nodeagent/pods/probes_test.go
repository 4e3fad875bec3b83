package pods

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// execResults makes the fake's Exec return the current value of code for every command.
func execResults(e *env) *atomic.Int32 {
	var code atomic.Int32
	e.rt.ExecFunc = func(ctx context.Context, id string, cmd []string, streams runtime.Streams) (int, error) {
		if streams.Stdout != nil {
			streams.Stdout.Write([]byte("probe output"))
		}
		return int(code.Load()), nil
	}
	return &code
}

func execProbe(period, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds: period, FailureThreshold: failures}
}

func TestReadinessProbe(t *testing.T) {
	e := newEnv(t, nil)
	code := execResults(e)
	code.Store(1)
	pod := simplePod("p", "c")
	pod.Spec.Containers[0].ReadinessProbe = execProbe(5, 1)
	pod = e.create(pod)
	got := e.waitPod(pod, "running", isRunning("c", 0))
	if condition(got, corev1.PodReady) != corev1.ConditionFalse || containerStatus(got, "c").Ready {
		t.Errorf("Ready = %s before the probe passed; want False", condition(got, corev1.PodReady))
	}
	waitFor(t, "an Unhealthy event", func() bool { return e.rec.has("Unhealthy", "Readiness probe failed: probe output") })
	code.Store(0)
	waitFor(t, "Ready", func() bool {
		e.step(5e9)
		p, _ := e.get(pod)
		return condition(p, corev1.PodReady) == corev1.ConditionTrue && containerStatus(p, "c").Ready
	})
	code.Store(1)
	waitFor(t, "not Ready again", func() bool {
		e.step(5e9)
		p, _ := e.get(pod)
		return condition(p, corev1.PodReady) == corev1.ConditionFalse
	})
	if p, _ := e.get(pod); containerStatus(p, "c").RestartCount != 0 {
		t.Error("a failing readiness probe restarted the container")
	}
}

func TestLivenessProbe(t *testing.T) {
	e := newEnv(t, nil)
	code := execResults(e)
	pod := simplePod("p", "c")
	pod.Spec.Containers[0].LivenessProbe = execProbe(10, 2)
	pod = e.create(pod)
	e.waitPod(pod, "running", isRunning("c", 0))
	code.Store(1)
	got := e.waitPodStepping(pod, "restart after liveness failure", 10*time.Second, isRunning("c", 1))
	if last := containerStatus(got, "c").LastTerminationState.Terminated; last == nil || last.ExitCode != 143 {
		t.Errorf("lastState = %+v; want terminated by SIGTERM (143)", last)
	}
	if !e.rec.has("Killing", "Container c failed liveness probe, will be restarted") || !e.rec.has("Unhealthy", "Liveness probe failed") {
		t.Errorf("missing Killing or Unhealthy event in:\n%s", e.rec)
	}
}

func TestStartupProbe(t *testing.T) {
	e := newEnv(t, nil)
	code := execResults(e)
	code.Store(1)
	pod := simplePod("p", "c")
	pod.Spec.Containers[0].StartupProbe = execProbe(1, 100)
	pod.Spec.Containers[0].LivenessProbe = execProbe(1, 1)
	pod = e.create(pod)
	got := e.waitPod(pod, "running", isRunning("c", 0))
	if cs := containerStatus(got, "c"); *cs.Started || cs.Ready {
		t.Errorf("started %t, ready %t before the startup probe passed; want false", *cs.Started, cs.Ready)
	}
	// The failing liveness probe is not run before the container has started.
	for i := 0; i < 3; i++ {
		e.step(1e9)
	}
	code.Store(0)
	waitFor(t, "started", func() bool {
		e.step(1e9)
		p, _ := e.get(pod)
		cs := containerStatus(p, "c")
		return *cs.Started && cs.Ready
	})
	if p, _ := e.get(pod); containerStatus(p, "c").RestartCount != 0 {
		t.Error("liveness probe ran before the startup probe passed")
	}
}

func TestProbeHandlers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && r.Header.Get("X-Probe") == "yes" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	c := &corev1.Container{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	tests := []struct {
		name string
		h    corev1.ProbeHandler
		want bool
	}{
		{name: "http by name", want: true, h: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"),
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "yes"}}}}},
		{name: "http 503", h: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/other", Port: intstr.FromInt32(int32(port))}}},
		{name: "http unknown port name", h: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("nope")}}},
		{name: "tcp open", want: true, h: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}},
		{name: "tcp closed", h: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(closedPort))}}},
		{name: "grpc unsupported", h: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 1}}},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, out := e.m.runProbe(context.Background(), "id", c, &tt.h, host)
			if ok != tt.want {
				t.Errorf("runProbe(%s) = %t (%s); want %t", tt.name, ok, out, tt.want)
			}
		})
	}
}

func TestImagePull(t *testing.T) {
	tests := []struct {
		name   string
		image  string
		policy corev1.PullPolicy
		setup  func(*env)
		want   string
	}{
		{name: "pull error then back-off", image: "registry.example/app:1", policy: corev1.PullIfNotPresent,
			setup: func(e *env) { e.rt.SetPullError("registry.example/app:1", context.DeadlineExceeded) }, want: waitingErrImagePull},
		{name: "never pull", image: "registry.example/absent:1", policy: corev1.PullNever, want: waitingErrImageNeverPull},
		{name: "invalid name", image: "UPPER/Case:1", policy: corev1.PullIfNotPresent, want: waitingInvalidImageName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.setup != nil {
				tt.setup(e)
			}
			pod := simplePod("p", "c")
			pod.Spec.Containers[0].Image, pod.Spec.Containers[0].ImagePullPolicy = tt.image, tt.policy
			pod = e.create(pod)
			e.waitPod(pod, tt.want, isWaiting("c", tt.want))
			if tt.want != waitingErrImagePull {
				return
			}
			if !e.rec.has("Pulling", `Pulling image "registry.example/app:1"`) || !e.rec.has("Failed", "Failed to pull image") {
				t.Errorf("missing Pulling or Failed event in:\n%s", e.rec)
			}
			e.waitPodStepping(pod, "ImagePullBackOff", 100*time.Millisecond, isWaiting("c", waitingImagePullBackOff))
			e.rt.SetPullError("registry.example/app:1", nil)
			e.waitPodStepping(pod, "running", time.Second, isRunning("c", 0))
			if !e.rec.has("Pulled", "Successfully pulled image") {
				t.Errorf("no Pulled event in:\n%s", e.rec)
			}
		})
	}
}
