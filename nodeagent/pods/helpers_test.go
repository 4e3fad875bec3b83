package pods

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/runtime/runtimetest"
)

const testNode = "node-1"

// recorder is a record.EventRecorder that keeps events in memory.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Event(obj kruntime.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventType+" "+reason+" "+message)
}

func (r *recorder) Eventf(obj kruntime.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

func (r *recorder) AnnotatedEventf(obj kruntime.Object, _ map[string]string, eventType, reason, format string, args ...any) {
	r.Eventf(obj, eventType, reason, format, args...)
}

// has reports whether an event contains every one of parts.
func (r *recorder) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(e, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "\n")
}

// testLogger sends logs through t.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// env is a Manager on a fake runtime, a fake clientset and a fake clock.
type env struct {
	t      *testing.T
	rt     *runtimetest.Fake
	client *fake.Clientset
	clock  *testingclock.FakeClock
	rec    *recorder
	cfg    Config
	m      *Manager
	stop   func()
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	e := &env{t: t, rt: runtimetest.NewFake(), client: fake.NewSimpleClientset(), rec: &recorder{},
		clock: testingclock.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	e.rt.Now = e.clock.Now
	t.Cleanup(func() { e.rt.Close() })
	dir := t.TempDir()
	resolv := filepath.Join(dir, "host-resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\nsearch example.com\noptions timeout:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeName = testNode
	cfg.NodeIPs = []string{"192.168.1.10"}
	cfg.Runtime = e.rt
	cfg.Client = e.client
	cfg.RootDir = filepath.Join(dir, "root")
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.ResolvConf = resolv
	cfg.Recorder = e.rec
	cfg.Clock = e.clock
	cfg.StatusInterval = 0
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if mutate != nil {
		mutate(&cfg)
	}
	e.cfg = cfg
	e.start()
	return e
}

// start creates a Manager and runs it until the test ends or restart is called.
func (e *env) start() {
	e.t.Helper()
	m, err := New(e.cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.m = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("Run() = %v", err)
				}
			case <-time.After(10 * time.Second):
				e.t.Errorf("Run did not return after its context ended")
			}
		})
	}
	e.t.Cleanup(e.stop)
}

// restart stops the Manager and starts a new one on the same runtime and API, as an agent
// restart does.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// create adds pod to the API, bound to the test node, and syncs it.
func (e *env) create(pod *corev1.Pod) *corev1.Pod {
	e.t.Helper()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	if pod.UID == "" {
		pod.UID = types.UID("uid-" + pod.Name)
	}
	pod.Spec.NodeName = testNode
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].ImagePullPolicy == "" {
			pod.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}}
	created, err := e.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod: %v", err)
	}
	e.m.Sync(created)
	return created
}

// get reads the pod from the API.
func (e *env) get(pod *corev1.Pod) (*corev1.Pod, error) {
	return e.client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitPod waits until the pod in the API satisfies cond and returns it.
func (e *env) waitPod(pod *corev1.Pod, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	e.t.Helper()
	var got *corev1.Pod
	waitFor(e.t, what, func() bool {
		p, err := e.get(pod)
		if err != nil {
			return false
		}
		got = p
		return cond(p)
	})
	return got
}

// waitGone waits until the pod is deleted from the API.
func (e *env) waitGone(pod *corev1.Pod) {
	e.t.Helper()
	waitFor(e.t, "pod "+pod.Name+" to be deleted", func() bool {
		_, err := e.get(pod)
		return apierrors.IsNotFound(err)
	})
}

// containerStatus returns the named container's status, nil when there is none.
func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func isRunning(name string, restarts int32) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		cs := containerStatus(p, name)
		return cs != nil && cs.State.Running != nil && cs.RestartCount == restarts
	}
}

func isWaiting(name, reason string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		cs := containerStatus(p, name)
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == reason
	}
}

func hasPhase(phase corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == phase }
}

// id returns the runtime ID of a container attempt of pod.
func id(pod *corev1.Pod, name string, attempt uint32) string {
	return runtime.ContainerID(string(pod.UID), name, attempt)
}

// config returns what a container attempt was created with.
func (e *env) config(pod *corev1.Pod, name string, attempt uint32) runtime.ContainerConfig {
	e.t.Helper()
	cfg, err := e.rt.ContainerConfig(id(pod, name, attempt))
	if err != nil {
		e.t.Fatalf("ContainerConfig(%s, %d): %v", name, attempt, err)
	}
	return cfg
}

// step advances the fake clock by d.
func (e *env) step(d time.Duration) { e.clock.Step(d) }

// calls counts the runtime calls that start with prefix.
func (e *env) calls(prefix string) int {
	n := 0
	for _, c := range e.rt.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// simplePod returns a pod with one container per name, running busybox.
func simplePod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox:1.36", Command: []string{"sleep", "3600"}})
	}
	return p
}

var _ kubernetes.Interface = (*fake.Clientset)(nil)

// waitPodStepping is waitPod that also advances the fake clock by d on every poll, for
// conditions that need a timer to fire: the worker may arm its timer after the test stepped.
func (e *env) waitPodStepping(pod *corev1.Pod, what string, d time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	e.t.Helper()
	return e.waitPod(pod, what, func(p *corev1.Pod) bool {
		if cond(p) {
			return true
		}
		e.step(d)
		return false
	})
}
