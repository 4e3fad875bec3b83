package pods

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clienttesting "k8s.io/client-go/testing"

	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

func TestStartPod(t *testing.T) {
	e := newEnv(t, nil)
	pod := simplePod("web", "app", "sidecar")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	pod = e.create(pod)

	got := e.waitPod(pod, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if got.Status.PodIP == "" || len(got.Status.PodIPs) != 1 || got.Status.HostIP != "192.168.1.10" || len(got.Status.HostIPs) != 1 {
		t.Errorf("status IPs = podIP %q %v, hostIP %q %v; want a pod IP and 192.168.1.10", got.Status.PodIP, got.Status.PodIPs, got.Status.HostIP, got.Status.HostIPs)
	}
	if got.Status.StartTime == nil {
		t.Error("status.startTime is not set")
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if s := condition(got, ct); s != corev1.ConditionTrue {
			t.Errorf("condition %s = %q; want True", ct, s)
		}
	}
	if names := []string{got.Status.ContainerStatuses[0].Name, got.Status.ContainerStatuses[1].Name}; names[0] != "app" || names[1] != "sidecar" {
		t.Errorf("container statuses = %v; want app, sidecar", names)
	}
	cs := containerStatus(got, "app")
	wantID := "containerd://" + id(pod, "app", 0)
	if cs.ContainerID != wantID || !cs.Ready || cs.Started == nil || !*cs.Started || cs.Image != "busybox:1.36" ||
		!strings.HasPrefix(cs.ImageID, "docker.io/library/busybox@sha256:") || cs.RestartCount != 0 {
		t.Errorf("container status = %+v; want ready, started, ID %s, image busybox:1.36 and a repo digest", cs, wantID)
	}
	sbs, _ := e.rt.ListSandboxes(context.Background())
	if len(sbs) != 1 || len(sbs[0].PortMappings) != 1 || sbs[0].PortMappings[0].HostPort != 8080 {
		t.Errorf("sandboxes = %+v; want one with host port 8080", sbs)
	}
	for _, ev := range []string{"Pulled Container image \"busybox:1.36\" already present on machine", "Created Created container app", "Started Started container sidecar"} {
		if !e.rec.has(ev) {
			t.Errorf("no event %q in:\n%s", ev, e.rec)
		}
	}
	if s := e.m.Stats(); s.Pods != 1 || s.RunningPods != 1 || s.RunningContainers != 2 {
		t.Errorf("Stats() = %+v; want 1 pod running 2 containers", s)
	}
	if uid, err := e.m.PodUID("default", "web"); err != nil || uid != string(pod.UID) {
		t.Errorf("PodUID(default, web) = %q, %v; want %s", uid, err, pod.UID)
	}
	if _, err := e.m.PodUID("default", "nope"); !errors.Is(err, kubeletapi.ErrPodNotFound) {
		t.Errorf("PodUID(unknown) = %v; want ErrPodNotFound", err)
	}
}

func TestIgnoresOtherNodes(t *testing.T) {
	e := newEnv(t, nil)
	pod := simplePod("elsewhere", "c")
	pod.Spec.NodeName = "node-2"
	e.m.Sync(pod)
	if s := e.m.Stats(); s.Pods != 0 {
		t.Errorf("Stats() after Sync of another node's pod = %+v; want no pods", s)
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		name      string
		policy    corev1.RestartPolicy
		exit      int32
		restart   bool
		wantPhase corev1.PodPhase
	}{
		{name: "Always restarts a success", policy: corev1.RestartPolicyAlways, exit: 0, restart: true},
		{name: "Always restarts a failure", policy: corev1.RestartPolicyAlways, exit: 1, restart: true},
		{name: "OnFailure restarts a failure", policy: corev1.RestartPolicyOnFailure, exit: 2, restart: true},
		{name: "OnFailure completes", policy: corev1.RestartPolicyOnFailure, exit: 0, wantPhase: corev1.PodSucceeded},
		{name: "Never fails", policy: corev1.RestartPolicyNever, exit: 3, wantPhase: corev1.PodFailed},
		{name: "Never completes", policy: corev1.RestartPolicyNever, exit: 0, wantPhase: corev1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			pod := simplePod("p", "c")
			pod.Spec.RestartPolicy = tt.policy
			pod = e.create(pod)
			e.waitPod(pod, "running", isRunning("c", 0))
			if err := e.rt.Exit(id(pod, "c", 0), tt.exit); err != nil {
				t.Fatal(err)
			}
			if !tt.restart {
				got := e.waitPod(pod, "phase "+string(tt.wantPhase), hasPhase(tt.wantPhase))
				term := containerStatus(got, "c").State.Terminated
				if term == nil || term.ExitCode != tt.exit {
					t.Errorf("state = %+v; want terminated with exit code %d", containerStatus(got, "c").State, tt.exit)
				}
				waitFor(t, "the sandbox to stop", func() bool { return e.calls("StopSandbox") == 1 })
				if _, err := e.rt.ContainerStatus(context.Background(), id(pod, "c", 0)); err != nil {
					t.Errorf("the finished container was removed: %v", err)
				}
				return
			}
			// The first restart is immediate.
			got := e.waitPod(pod, "restart 1", isRunning("c", 1))
			if last := containerStatus(got, "c").LastTerminationState.Terminated; last == nil || last.ExitCode != tt.exit ||
				last.ContainerID != "containerd://"+id(pod, "c", 0) {
				t.Errorf("lastState = %+v; want terminated with exit code %d", last, tt.exit)
			}
			if got.Status.Phase != corev1.PodRunning {
				t.Errorf("phase = %s; want Running", got.Status.Phase)
			}
			// Then CrashLoopBackOff: 10s, 20s.
			for i, delay := range []time.Duration{10 * time.Second, 20 * time.Second} {
				attempt := uint32(i + 1)
				if err := e.rt.Exit(id(pod, "c", attempt), tt.exit); err != nil {
					t.Fatal(err)
				}
				got = e.waitPod(pod, "CrashLoopBackOff", isWaiting("c", waitingCrashLoopBackOff))
				if msg := containerStatus(got, "c").State.Waiting.Message; !strings.Contains(msg, "back-off "+delay.String()) {
					t.Errorf("waiting message = %q; want back-off %s", msg, delay)
				}
				e.step(delay - time.Second)
				e.m.Sync(got) // a sync before the back-off expires must not restart
				if _, err := e.rt.ContainerStatus(context.Background(), id(pod, "c", attempt+1)); err == nil {
					t.Fatalf("attempt %d started before its back-off of %s expired", attempt+1, delay)
				}
				e.waitPodStepping(pod, "restart after back-off", time.Second, isRunning("c", int32(attempt+1)))
			}
			if !e.rec.has("BackOff", "Back-off restarting failed container c") {
				t.Errorf("no BackOff event in:\n%s", e.rec)
			}
			// Old attempts go; the latest and the previous one stay.
			waitFor(t, "attempt 0 to be removed", func() bool {
				_, err := e.rt.ContainerStatus(context.Background(), id(pod, "c", 0))
				return errors.Is(err, runtime.ErrNotFound)
			})
			if _, err := e.rt.ContainerStatus(context.Background(), id(pod, "c", 2)); err != nil {
				t.Errorf("previous attempt removed: %v", err)
			}
		})
	}
}

func TestBackoffReset(t *testing.T) {
	c := newEnv(t, nil).clock
	b := newBackoff(c, 10*time.Second, 5*time.Minute)
	t0 := c.Now()
	if in, _, _ := b.inBackoffSince("k", t0); in {
		t.Fatal("inBackoffSince(first failure) = true; want false")
	}
	b.next("k", t0)
	if in, _, d := b.inBackoffSince("k", c.Now()); !in || d != 10*time.Second {
		t.Errorf("inBackoffSince(second failure) = %v, %s; want true, 10s", in, d)
	}
	c.Step(11 * time.Minute)
	if in, _, _ := b.inBackoffSince("k", c.Now()); in {
		t.Error("inBackoffSince(after 11 minutes) = true; want the back-off forgotten")
	}
}

func TestInitContainers(t *testing.T) {
	tests := []struct {
		name      string
		policy    corev1.RestartPolicy
		wantPhase corev1.PodPhase
	}{
		{name: "failed init container restarts", policy: corev1.RestartPolicyAlways, wantPhase: corev1.PodRunning},
		{name: "failed init container fails the pod", policy: corev1.RestartPolicyNever, wantPhase: corev1.PodFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			pod := simplePod("p", "app")
			pod.Spec.RestartPolicy = tt.policy
			pod.Spec.InitContainers = []corev1.Container{
				{Name: "init1", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
				{Name: "init2", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
			}
			pod = e.create(pod)
			got := e.waitPod(pod, "init1 running", isRunning("init1", 0))
			if got.Status.Phase != corev1.PodPending || condition(got, corev1.PodInitialized) != corev1.ConditionFalse {
				t.Errorf("phase %s, Initialized %s; want Pending, False", got.Status.Phase, condition(got, corev1.PodInitialized))
			}
			if w := containerStatus(got, "app").State.Waiting; w == nil || w.Reason != waitingPodInitializing {
				t.Errorf("app state = %+v; want waiting PodInitializing", containerStatus(got, "app").State)
			}
			if e.calls("CreateContainer "+id(pod, "init2", 0)) != 0 {
				t.Fatal("init2 was created before init1 completed")
			}
			e.rt.Exit(id(pod, "init1", 0), 0)
			e.waitPod(pod, "init2 running", isRunning("init2", 0))
			e.rt.Exit(id(pod, "init2", 0), 1)
			if tt.wantPhase == corev1.PodFailed {
				e.waitPod(pod, "Failed", hasPhase(corev1.PodFailed))
				if e.calls("CreateContainer "+id(pod, "app", 0)) != 0 {
					t.Error("app container created after its init container failed")
				}
				return
			}
			e.waitPod(pod, "init2 restarted", isRunning("init2", 1))
			e.rt.Exit(id(pod, "init2", 1), 0)
			got = e.waitPod(pod, "app running", isRunning("app", 0))
			if got.Status.Phase != corev1.PodRunning || condition(got, corev1.PodInitialized) != corev1.ConditionTrue {
				t.Errorf("phase %s, Initialized %s; want Running, True", got.Status.Phase, condition(got, corev1.PodInitialized))
			}
			if init2 := containerStatus(got, "init2"); init2.State.Terminated == nil || init2.RestartCount != 1 || !init2.Ready {
				t.Errorf("init2 status = %+v; want terminated, ready, 1 restart", init2)
			}
		})
	}
}

func TestGracefulDelete(t *testing.T) {
	e := newEnv(t, nil)
	var hooks []string
	e.rt.ExecFunc = func(ctx context.Context, id string, cmd []string, streams runtime.Streams) (int, error) {
		hooks = append(hooks, id+" "+strings.Join(cmd, " "))
		return 0, nil
	}
	pod := simplePod("web", "app")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"nginx", "-s", "quit"}}}}
	pod = e.create(pod)
	running := e.waitPod(pod, "running", isRunning("app", 0))

	now := metav1.NewTime(e.clock.Now())
	running.DeletionTimestamp = &now
	running.DeletionGracePeriodSeconds = new(int64)
	*running.DeletionGracePeriodSeconds = 30
	updated, err := e.client.CoreV1().Pods("default").Update(context.Background(), running, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.client.ClearActions()
	e.m.Sync(updated)
	e.waitGone(pod)

	var del clienttesting.DeleteActionImpl
	for _, a := range e.client.Actions() {
		if d, ok := a.(clienttesting.DeleteActionImpl); ok {
			del = d
		}
	}
	opts := del.DeleteOptions
	if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 || opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != pod.UID {
		t.Errorf("delete options = %+v; want grace period 0 and UID precondition %s", opts, pod.UID)
	}
	waitFor(t, "the worker to finish", func() bool { return e.m.Stats().Pods == 0 })
	if want := id(pod, "app", 0) + " nginx -s quit"; len(hooks) != 1 || hooks[0] != want {
		t.Errorf("preStop hooks run = %q; want [%q]", hooks, want)
	}
	if !e.rec.has("Killing", "Stopping container app") {
		t.Errorf("no Killing event in:\n%s", e.rec)
	}
	if cs, _ := e.rt.ListContainers(context.Background(), runtime.ContainerFilter{}); len(cs) != 0 {
		t.Errorf("containers left after delete: %+v", cs)
	}
	if sbs, _ := e.rt.ListSandboxes(context.Background()); len(sbs) != 0 {
		t.Errorf("sandboxes left after delete: %+v", sbs)
	}
	if _, err := os.Stat(e.m.podDir(string(pod.UID))); !os.IsNotExist(err) {
		t.Errorf("pod directory left after delete: %v", err)
	}
	// A late informer event does not bring the pod back.
	e.m.Sync(updated)
	if s := e.m.Stats(); s.Pods != 0 {
		t.Errorf("Stats() after a late Sync = %+v; want no pods", s)
	}
}

func TestRemove(t *testing.T) {
	e := newEnv(t, nil)
	pod := e.create(simplePod("p", "c"))
	e.waitPod(pod, "running", isRunning("c", 0))
	e.client.ClearActions()
	e.m.Remove(pod.UID)
	waitFor(t, "the pod's containers to be removed", func() bool {
		cs, _ := e.rt.ListContainers(context.Background(), runtime.ContainerFilter{})
		return len(cs) == 0 && e.m.Stats().Pods == 0
	})
	for _, a := range e.client.Actions() {
		if a.GetVerb() == "delete" {
			t.Errorf("Remove deleted the pod from the API: %v", a)
		}
	}
}

func TestAdoption(t *testing.T) {
	e := newEnv(t, nil)
	pod := e.create(simplePod("p", "a", "b"))
	e.waitPod(pod, "running", func(p *corev1.Pod) bool { return isRunning("a", 0)(p) && isRunning("b", 0)(p) })
	// b exits while the agent is down.
	e.stop()
	before := len(e.rt.Calls())
	e.rt.Exit(id(pod, "b", 0), 7)

	e.start()
	current, _ := e.get(pod)
	e.m.Sync(current)
	got := e.waitPod(pod, "b restarted", isRunning("b", 1))
	if cs := containerStatus(got, "a"); cs.State.Running == nil || cs.RestartCount != 0 || cs.ContainerID != "containerd://"+id(pod, "a", 0) {
		t.Errorf("a after the restart = %+v; want the same running container", cs)
	}
	for _, c := range e.rt.Calls()[before:] {
		if strings.Contains(c, id(pod, "a", 0)) || strings.HasPrefix(c, "StopSandbox") {
			t.Errorf("agent restart touched a running container or the sandbox: %s", c)
		}
	}
	if e.calls("RunSandbox") != 1 {
		t.Errorf("RunSandbox called %d times; want once", e.calls("RunSandbox"))
	}
}

func TestOrphansRemovedOnceSourcesReady(t *testing.T) {
	e := newEnv(t, nil)
	pod := e.create(simplePod("p", "c"))
	e.waitPod(pod, "running", isRunning("c", 0))
	e.stop()
	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.step(e.cfg.ResyncPeriod)
	if cs, _ := e.rt.ListContainers(context.Background(), runtime.ContainerFilter{}); len(cs) != 1 {
		t.Fatalf("containers before SetSourcesReady = %d; want 1", len(cs))
	}
	e.m.SetSourcesReady()
	waitFor(t, "the orphan to be removed", func() bool {
		e.step(e.cfg.ResyncPeriod)
		cs, _ := e.rt.ListContainers(context.Background(), runtime.ContainerFilter{})
		sbs, _ := e.rt.ListSandboxes(context.Background())
		return len(cs) == 0 && len(sbs) == 0
	})
}

func TestContainerID(t *testing.T) {
	e := newEnv(t, nil)
	pod := e.create(simplePod("p", "c"))
	e.waitPod(pod, "running", isRunning("c", 0))
	tests := []struct {
		name      string
		container string
		previous  bool
		want      string
		wantErr   error
	}{
		{name: "current", container: "c", want: id(pod, "c", 0)},
		{name: "no previous yet", container: "c", previous: true, wantErr: kubeletapi.ErrContainerNotFound},
		{name: "unknown container", container: "x", wantErr: kubeletapi.ErrContainerNotFound},
	}
	check := func(tests []struct {
		name      string
		container string
		previous  bool
		want      string
		wantErr   error
	}) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.m.ContainerID("default", "p", tt.container, tt.previous)
				if got != tt.want || !errors.Is(err, tt.wantErr) {
					t.Errorf("ContainerID(%s, previous=%t) = %q, %v; want %q, %v", tt.container, tt.previous, got, err, tt.want, tt.wantErr)
				}
			})
		}
	}
	check(tests)
	if _, err := e.m.ContainerID("default", "p", "c", true); err != kubeletapi.ErrContainerNotFound { //nolint:errorlint // the bare sentinel is the contract
		t.Errorf("ContainerID(previous) = %v; want the bare sentinel", err)
	}
	e.rt.Exit(id(pod, "c", 0), 1)
	e.waitPod(pod, "restart", isRunning("c", 1))
	check([]struct {
		name      string
		container string
		previous  bool
		want      string
		wantErr   error
	}{
		{name: "current after restart", container: "c", want: id(pod, "c", 1)},
		{name: "previous after restart", container: "c", previous: true, want: id(pod, "c", 0)},
	})
	if _, err := e.m.ContainerID("default", "other", "c", false); !errors.Is(err, kubeletapi.ErrPodNotFound) {
		t.Errorf("ContainerID(unknown pod) = %v; want ErrPodNotFound", err)
	}
}
