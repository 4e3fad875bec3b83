package pods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Labels the workers put on their containers.
const (
	labelHash = "capstan.io/container-hash"
	labelInit = "capstan.io/init-container"
)

// retryInterval is how soon a worker retries after a runtime or API error.
const retryInterval = 2 * time.Second

// worker serialises the lifecycle of one pod. Its goroutine (run) ends when ctx ends or when
// the pod is gone and cleaned up.
type worker struct {
	m    *Manager
	uid  types.UID
	wake chan struct{}
	// started is set once the goroutine has been started; guarded by m.mu.
	started bool
	// wg tracks the worker's probe goroutines; set before the goroutine starts.
	wg *sync.WaitGroup

	mu      sync.Mutex // protects the fields below
	pod     *corev1.Pod
	removed bool
	status  *corev1.PodStatus // last computed status, for ContainerID and Stats
	results map[string]bool   // probe results by probeKey
	// probeFailed marks probes whose failure threshold was reached (not just initial results).
	probeFailed map[string]bool

	// The fields below are owned by the worker goroutine.
	sandbox      *runtime.Sandbox
	waiting      map[string]*corev1.ContainerStateWaiting
	backoffEvent map[string]string // container name -> ID whose back-off was announced
	vols         volumes
	volsAt       time.Time
	hostsPath    string
	resolvPath   string
	probes       map[string]context.CancelFunc
	lastWrite    time.Time
	stoppedSB    bool
}

func newWorker(m *Manager, pod *corev1.Pod) *worker {
	return &worker{
		m: m, uid: pod.UID, wake: make(chan struct{}, 1), pod: pod, results: map[string]bool{}, probeFailed: map[string]bool{},
		waiting: map[string]*corev1.ContainerStateWaiting{}, backoffEvent: map[string]string{},
		probes: map[string]context.CancelFunc{},
	}
}

// poke asks the worker to sync soon.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// update replaces the pod when the new version is not older than the known one.
func (w *worker) update(pod *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if newer(pod.ResourceVersion, w.pod.ResourceVersion) {
		w.pod = pod.DeepCopy()
	}
}

// newer reports whether resourceVersion a is not older than b. Resource versions are compared
// as numbers when both are (as Capstan's are); otherwise a is taken as newer.
func newer(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return true
	}
	return x >= y
}

func (w *worker) markRemoved() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed = true
}

func (w *worker) currentPod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// run syncs the pod whenever poked, when a deadline it computed passes, and every resync
// period, until ctx ends or the pod is finished.
func (w *worker) run(ctx context.Context, wg *sync.WaitGroup) {
	w.wg = wg
	timer := w.m.clock.NewTimer(0)
	defer timer.Stop()
	defer w.stopProbes()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C():
		}
		next, done := w.sync(ctx)
		if done {
			w.m.finished(w)
			return
		}
		if ctx.Err() != nil {
			return
		}
		timer.Stop()
		timer.Reset(next)
	}
}

// wakeup collects the earliest time a sync needs to run again.
type wakeup struct {
	now time.Time
	d   time.Duration
}

// at asks for a sync at t.
func (u *wakeup) at(t time.Time) { u.after(t.Sub(u.now)) }

// after asks for a sync after d.
func (u *wakeup) after(d time.Duration) {
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	u.d = min(u.d, d)
}

// sync does one level-triggered pass: it compares the pod's spec with what the runtime runs,
// acts, and publishes the status. It returns when to sync next, and done once the pod is gone.
func (w *worker) sync(ctx context.Context) (time.Duration, bool) {
	w.mu.Lock()
	pod, removed := w.pod, w.removed
	w.mu.Unlock()
	next := &wakeup{now: w.m.clock.Now(), d: w.m.cfg.ResyncPeriod}
	log := w.m.log.With("pod", pod.Namespace+"/"+pod.Name, "uid", pod.UID)

	if removed || pod.DeletionTimestamp != nil {
		if err := w.terminate(ctx, pod, removed); err != nil {
			if ctx.Err() == nil {
				log.Warn("cannot terminate pod", "err", err)
			}
			next.after(retryInterval)
			return next.d, false
		}
		return 0, true
	}
	if isTerminal(pod.Status.Phase) {
		if err := w.stopFinished(ctx, pod); err != nil {
			log.Warn("cannot stop finished pod", "err", err)
			next.after(retryInterval)
		}
		return next.d, false
	}

	cs, err := w.m.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: string(pod.UID)})
	if err != nil {
		log.Warn("cannot list containers", "err", err)
		next.after(retryInterval)
		return next.d, false
	}
	w.waiting = map[string]*corev1.ContainerStateWaiting{}
	if err := w.ensureSandbox(ctx, pod, groupByName(cs)); err != nil {
		log.Warn("cannot set up the pod sandbox", "err", err)
		w.m.event(pod, corev1.EventTypeWarning, reasonFailedSandbox, "Failed to create pod sandbox: %v", err)
		w.publish(ctx, pod, groupByName(cs), false, next)
		next.after(retryInterval)
		return next.d, false
	}
	ec := &envContext{pod: pod, podIPs: w.sandbox.IPs, hostIPs: w.m.cfg.NodeIPs, allocatable: w.m.cfg.NodeAllocatable,
		configs: newConfigCache(w.m.cfg.Client, pod.Namespace)}
	if err := w.ensurePodFiles(ctx, pod, ec, next); err != nil {
		log.Warn("cannot set up the pod's volumes", "err", err)
		w.m.event(pod, corev1.EventTypeWarning, reasonFailedMount, "%v", err)
		w.publish(ctx, pod, groupByName(cs), false, next)
		next.after(retryInterval)
		return next.d, false
	}

	byName := groupByName(cs)
	if w.syncInit(ctx, pod, ec, byName, next) {
		w.syncApps(ctx, pod, ec, byName, next)
	}
	if cs, err = w.m.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: string(pod.UID)}); err != nil {
		log.Warn("cannot list containers", "err", err)
		next.after(retryInterval)
		return next.d, false
	}
	byName = groupByName(cs)
	w.removeOldAttempts(ctx, byName)
	w.syncProbes(ctx, pod, byName)
	w.publish(ctx, pod, byName, true, next)
	return next.d, false
}

// groupByName groups a pod's containers by name, attempts in ascending order.
func groupByName(cs []runtime.ContainerStatus) map[string][]runtime.ContainerStatus {
	out := map[string][]runtime.ContainerStatus{}
	for _, c := range cs {
		out[c.Name] = append(out[c.Name], c)
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool { return list[i].Attempt < list[j].Attempt })
	}
	return out
}

func latest(attempts []runtime.ContainerStatus) *runtime.ContainerStatus {
	if len(attempts) == 0 {
		return nil
	}
	return &attempts[len(attempts)-1]
}

func isTerminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

// ensureSandbox sets up the pod's sandbox unless a ready one is known. When a sandbox has to be
// set up again (its network namespace vanished), containers still recorded as running in the old
// one are stopped: they are restarted in the new one according to the restart policy.
func (w *worker) ensureSandbox(ctx context.Context, pod *corev1.Pod, byName map[string][]runtime.ContainerStatus) error {
	if w.sandbox != nil && w.sandbox.State == runtime.SandboxReady {
		return nil
	}
	rebuild := w.sandbox != nil
	var ports []runtime.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				ports = append(ports, runtime.PortMapping{ContainerPort: p.ContainerPort, HostPort: p.HostPort, Protocol: p.Protocol, HostIP: p.HostIP})
			}
		}
	}
	sb, err := w.m.rt.RunSandbox(ctx, runtime.SandboxConfig{UID: string(pod.UID), Name: pod.Name, Namespace: pod.Namespace, PortMappings: ports})
	if err != nil {
		return err
	}
	if rebuild {
		w.m.event(pod, corev1.EventTypeNormal, reasonSandboxChanged, "Pod sandbox changed, it will be killed and re-created.")
		for _, attempts := range byName {
			if l := latest(attempts); l != nil && l.State == runtime.ContainerRunning {
				if err := w.m.rt.StopContainer(ctx, l.ID, 0); err != nil {
					return err
				}
			}
		}
	}
	w.sandbox = sb
	w.stoppedSB = false
	return nil
}

// ensurePodFiles writes the pod's /etc/hosts and resolv.conf and sets up its volumes, refreshing
// configuration volumes every ConfigRefreshPeriod.
func (w *worker) ensurePodFiles(ctx context.Context, pod *corev1.Pod, ec *envContext, next *wakeup) error {
	if err := os.MkdirAll(w.m.podDir(string(pod.UID)), 0o750); err != nil {
		return err
	}
	var err error
	if w.hostsPath, err = w.m.writeHosts(pod, w.sandbox.IPs); err != nil {
		return fmt.Errorf("write /etc/hosts: %w", err)
	}
	if w.resolvPath, err = w.m.writeResolvConf(pod); err != nil {
		return fmt.Errorf("write /etc/resolv.conf: %w", err)
	}
	refresh := w.vols == nil
	if p := w.m.cfg.ConfigRefreshPeriod; p > 0 && !refresh {
		if due := w.volsAt.Add(p); !next.now.Before(due) {
			refresh = true
		} else {
			next.at(due)
		}
	}
	if !refresh {
		return nil
	}
	vols, err := w.m.setupVolumes(ctx, pod, ec, w.vols != nil)
	if err != nil {
		return err
	}
	w.vols, w.volsAt = vols, next.now
	if p := w.m.cfg.ConfigRefreshPeriod; p > 0 {
		next.after(p)
	}
	return nil
}

// initialized reports whether the pod's init containers have all completed: true once any app
// container was created.
func initialized(pod *corev1.Pod, byName map[string][]runtime.ContainerStatus) bool {
	for _, c := range pod.Spec.Containers {
		if len(byName[c.Name]) > 0 {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		l := latest(byName[c.Name])
		if l == nil || l.State != runtime.ContainerExited || l.ExitCode != 0 {
			return false
		}
	}
	return true
}

// syncInit runs the init containers one after the other and reports whether all completed.
func (w *worker) syncInit(ctx context.Context, pod *corev1.Pod, ec *envContext, byName map[string][]runtime.ContainerStatus, next *wakeup) bool {
	if initialized(pod, byName) {
		return true
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		l := latest(byName[c.Name])
		switch {
		case l == nil:
			w.startContainer(ctx, pod, ec, c, 0, next)
			return false
		case l.State == runtime.ContainerRunning:
			return false
		case l.State == runtime.ContainerExited && l.ExitCode == 0:
			continue
		case l.State == runtime.ContainerCreated:
			w.restartCreated(ctx, pod, ec, c, l, next)
			return false
		default:
			if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				return false // the pod failed
			}
			w.restart(ctx, pod, ec, c, l, next)
			return false
		}
	}
	return true
}

// syncApps brings every app container to the state its restart policy asks for.
func (w *worker) syncApps(ctx context.Context, pod *corev1.Pod, ec *envContext, byName map[string][]runtime.ContainerStatus, next *wakeup) {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		l := latest(byName[c.Name])
		if l == nil {
			w.startContainer(ctx, pod, ec, c, 0, next)
			continue
		}
		switch l.State {
		case runtime.ContainerCreated:
			w.restartCreated(ctx, pod, ec, c, l, next)
			continue
		case runtime.ContainerRunning:
			if l.Labels[labelHash] != containerHash(c) {
				w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonKilling, "Container %s definition changed, will be restarted", c.Name)
				if err := w.killContainer(ctx, pod, c, l.ID); err != nil {
					w.m.log.Warn("cannot stop container", "id", l.ID, "err", err)
					continue
				}
				w.startContainer(ctx, pod, ec, c, l.Attempt+1, next)
				continue
			}
			probe := w.failedProbe(l.ID)
			if probe == "" {
				continue
			}
			w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonKilling, "Container %s failed %s probe, will be restarted", c.Name, probe)
			if err := w.killContainer(ctx, pod, c, l.ID); err != nil {
				w.m.log.Warn("cannot stop container", "id", l.ID, "err", err)
				continue
			}
			st, err := w.m.rt.ContainerStatus(ctx, l.ID)
			if err != nil {
				continue
			}
			l = &st
		}
		if shouldRestart(pod.Spec.RestartPolicy, l) {
			w.restart(ctx, pod, ec, c, l, next)
		}
	}
}

// shouldRestart applies the restart policy to an exited container.
func shouldRestart(policy corev1.RestartPolicy, l *runtime.ContainerStatus) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return l.ExitCode != 0 || l.Reason == runtime.ReasonUnknown
	}
	return true
}

// restart starts the attempt after the exited container l, unless the container is in its
// crash loop back-off.
func (w *worker) restart(ctx context.Context, pod *corev1.Pod, ec *envContext, c *corev1.Container, l *runtime.ContainerStatus, next *wakeup) {
	key := string(pod.UID) + "/" + c.Name
	if in, until, delay := w.m.backoff.inBackoffSince(key, l.FinishedAt); in {
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: waitingCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", delay, c.Name, formatPod(pod))}
		if w.backoffEvent[c.Name] != l.ID {
			w.backoffEvent[c.Name] = l.ID
			w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonBackOff, "Back-off restarting failed container %s in pod %s", c.Name, formatPod(pod))
		}
		next.at(until)
		return
	}
	w.m.backoff.next(key, l.FinishedAt)
	w.startContainer(ctx, pod, ec, c, l.Attempt+1, next)
}

// restartCreated replaces a container that was created but never started (its start failed,
// or the agent stopped in between) by a new attempt, with back-off.
func (w *worker) restartCreated(ctx context.Context, pod *corev1.Pod, ec *envContext, c *corev1.Container, l *runtime.ContainerStatus, next *wakeup) {
	key := string(pod.UID) + "/" + c.Name
	if in, until := w.m.backoff.inBackoffSinceUpdate(key); in {
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: waitingRunError, Message: "back-off restarting container that failed to start"}
		next.at(until)
		return
	}
	if err := w.m.rt.RemoveContainer(ctx, l.ID); err != nil {
		w.m.log.Warn("cannot remove container", "id", l.ID, "err", err)
		return
	}
	w.startContainer(ctx, pod, ec, c, l.Attempt+1, next)
}

// killContainer runs the container's preStop hook and stops it with the pod's grace period.
func (w *worker) killContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) error {
	grace := w.m.gracePeriod(pod)
	deadline := w.m.clock.Now().Add(grace)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		hctx, cancel := context.WithTimeout(ctx, grace)
		msg, err := w.m.runHandler(hctx, id, c, c.Lifecycle.PreStop, first(w.podIPs()))
		cancel()
		if err != nil {
			w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonFailedPreStop, "PreStopHook failed: %v %s", err, msg)
		}
	}
	remaining := max(deadline.Sub(w.m.clock.Now()), 0)
	return w.m.rt.StopContainer(ctx, id, remaining)
}

func (w *worker) podIPs() []string {
	if w.sandbox == nil {
		return nil
	}
	return w.sandbox.IPs
}

// gracePeriod is the pod's deletion grace period, else its termination grace period, else the
// default.
func (m *Manager) gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return m.cfg.DefaultGracePeriod
}

// containerHash identifies a container's spec; a running container whose hash differs (its image
// was changed) is restarted.
func containerHash(c *corev1.Container) string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// startContainer pulls the image, creates attempt attempt of c and starts it. Failures are
// reported as the container's waiting reason and as events.
func (w *worker) startContainer(ctx context.Context, pod *corev1.Pod, ec *envContext, c *corev1.Container, attempt uint32, next *wakeup) {
	key := string(pod.UID) + "/" + c.Name
	fail := func(reason string, err error) {
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
		w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonFailed, "Error: %v", err)
		next.after(retryInterval)
	}
	ref, ok := w.ensureImage(ctx, pod, c, next)
	if !ok {
		return
	}
	env, err := resolveEnv(ctx, ec, c)
	if err != nil {
		fail(waitingConfigError, err)
		return
	}
	mounts, err := containerMounts(c, w.vols, w.hostsPath, w.resolvPath)
	if err != nil {
		fail(waitingConfigError, err)
		return
	}
	lookup := func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if env[i].Name == name {
				return env[i].Value, true
			}
		}
		return "", false
	}
	var command, args []string
	for _, s := range c.Command {
		command = append(command, expand(s, lookup))
	}
	for _, s := range c.Args {
		args = append(args, expand(s, lookup))
	}
	cfg := runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt, Image: ref, Command: command, Args: args, Env: env,
		WorkingDir: c.WorkingDir, Mounts: mounts, Hostname: hostname(pod), Resources: resources(c),
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		LogPath: runtime.LogPath(w.m.cfg.LogDir, pod.Namespace, pod.Name, string(pod.UID), c.Name, attempt),
		Labels:  map[string]string{labelHash: containerHash(c)},
	}
	if fieldPath(pod, c) != fmt.Sprintf("spec.containers{%s}", c.Name) {
		cfg.Labels[labelInit] = "true"
	}
	cfg.RunAsUser, cfg.RunAsGroup = runAs(pod, c)
	id, err := w.m.rt.CreateContainer(ctx, w.sandbox, cfg)
	if errors.Is(err, runtime.ErrAlreadyExists) {
		// Left over from a sync that did not finish: start afresh.
		if err = w.m.rt.RemoveContainer(ctx, runtime.ContainerID(string(pod.UID), c.Name, attempt)); err == nil {
			id, err = w.m.rt.CreateContainer(ctx, w.sandbox, cfg)
		}
	}
	if errors.Is(err, runtime.ErrSandboxNotReady) {
		w.sandbox.State = runtime.SandboxNotReady
		w.poke() // set it up again at once
	}
	if err != nil {
		fail(waitingCreateError, err)
		return
	}
	w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonCreated, "Created container %s", c.Name)
	if err := w.m.rt.StartContainer(ctx, id); err != nil {
		w.m.backoff.next(key, w.m.clock.Now())
		fail(waitingRunError, err)
		return
	}
	w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonStarted, "Started container %s", c.Name)
	delete(w.waiting, c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		hctx, cancel := context.WithTimeout(ctx, w.m.gracePeriod(pod)+time.Minute)
		msg, err := w.m.runHandler(hctx, id, c, c.Lifecycle.PostStart, first(w.sandbox.IPs))
		cancel()
		if err != nil {
			w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonFailedPostStart, "PostStartHook failed: %v %s", err, msg)
			w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonKilling, "FailedPostStartHook")
			if err := w.m.rt.StopContainer(ctx, id, w.m.gracePeriod(pod)); err != nil {
				w.m.log.Warn("cannot stop container", "id", id, "err", err)
			}
		}
	}
}

// runAs returns the user and group the container runs as: the container's security context
// overrides the pod's.
func runAs(pod *corev1.Pod, c *corev1.Container) (uid, gid *int64) {
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	return uid, gid
}

// resources converts a container's requests and limits.
func resources(c *corev1.Container) runtime.Resources {
	var r runtime.Resources
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CPURequestMillis = q.MilliValue()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPULimitMillis = q.MilliValue()
		if r.CPURequestMillis == 0 {
			r.CPURequestMillis = r.CPULimitMillis
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimitBytes = q.Value()
	}
	return r
}

// ensureImage makes c's image available according to its pull policy, with the kubelet's events,
// waiting reasons and pull back-off. ok is false when the container cannot start now.
func (w *worker) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, next *wakeup) (runtime.ImageRef, bool) {
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if name, err := runtime.NormalizeImage(c.Image); err == nil && (strings.HasSuffix(name, ":latest") && !strings.Contains(c.Image, "@")) {
			policy = corev1.PullAlways
		}
	}
	wait := func(reason, msg string) (runtime.ImageRef, bool) {
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		return runtime.ImageRef{}, false
	}
	invalid := func(err error) (runtime.ImageRef, bool) {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", c.Image, err)
		w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonInspectFailed, "%s", msg)
		return wait(waitingInvalidImageName, msg)
	}
	key := "pull/" + string(pod.UID) + "/" + c.Image
	if policy != corev1.PullAlways {
		ref, err := w.m.rt.EnsureImage(ctx, c.Image, corev1.PullNever, nil)
		switch {
		case err == nil:
			w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonPulled, "Container image %q already present on machine", c.Image)
			return ref, true
		case errors.Is(err, runtime.ErrInvalidImageName):
			return invalid(err)
		case policy == corev1.PullNever:
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
			w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonErrImageNeverPull, "%s", msg)
			next.after(retryInterval)
			return wait(waitingErrImageNeverPull, msg)
		}
	}
	if in, until := w.m.backoff.inBackoffSinceUpdate(key); in {
		w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonBackOff, "Back-off pulling image %q", c.Image)
		next.at(until)
		return wait(waitingImagePullBackOff, fmt.Sprintf("Back-off pulling image %q", c.Image))
	}
	w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonPulling, "Pulling image %q", c.Image)
	start := w.m.clock.Now()
	auth, err := w.m.pullAuth(ctx, pod)
	if err != nil {
		w.m.log.Warn("cannot read image pull secrets", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	ref, err := w.m.rt.EnsureImage(ctx, c.Image, policy, auth)
	if err != nil {
		if errors.Is(err, runtime.ErrInvalidImageName) {
			return invalid(err)
		}
		w.m.backoff.next(key, w.m.clock.Now())
		w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonFailed, "Failed to pull image %q: %v", c.Image, err)
		w.m.containerEvent(pod, c, corev1.EventTypeWarning, reasonFailed, "Error: %s", waitingErrImagePull)
		next.after(retryInterval) // then ImagePullBackOff until the back-off expires
		return wait(waitingErrImagePull, err.Error())
	}
	w.m.backoff.reset(key)
	w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonPulled, "Successfully pulled image %q in %s", c.Image, w.m.clock.Since(start).Round(time.Millisecond))
	return ref, true
}

// removeOldAttempts keeps each container's latest attempt and the last exited one before it
// (for logs --previous) and removes older exited attempts.
func (w *worker) removeOldAttempts(ctx context.Context, byName map[string][]runtime.ContainerStatus) {
	for _, attempts := range byName {
		if len(attempts) <= 2 {
			continue
		}
		for _, a := range attempts[:len(attempts)-2] {
			if a.State == runtime.ContainerRunning {
				continue
			}
			if err := w.m.rt.RemoveContainer(ctx, a.ID); err != nil {
				w.m.log.Warn("cannot remove old container", "id", a.ID, "err", err)
			}
		}
	}
}

// stopFinished stops what is left of a pod that has succeeded or failed: its containers keep
// their records (and logs), the sandbox goes.
func (w *worker) stopFinished(ctx context.Context, pod *corev1.Pod) error {
	w.mu.Lock()
	w.status = pod.Status.DeepCopy()
	w.mu.Unlock()
	if w.stoppedSB {
		return nil
	}
	w.stopProbes()
	cs, err := w.m.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: string(pod.UID)})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			if err := w.m.rt.StopContainer(ctx, c.ID, w.m.gracePeriod(pod)); err != nil {
				return err
			}
		}
	}
	if err := w.m.rt.StopSandbox(ctx, string(pod.UID)); err != nil {
		return err
	}
	w.sandbox, w.stoppedSB = nil, true
	return nil
}

// terminate stops a pod that is being deleted: preStop hooks and StopContainer within the grace
// period, all containers in parallel, then the sandbox. Unless the pod was removed from the API
// already, it then deletes the pod with grace period 0 and a UID precondition, which completes
// the deletion. Finally it removes the containers and the pod's directory.
func (w *worker) terminate(ctx context.Context, pod *corev1.Pod, removed bool) error {
	w.stopProbes()
	cs, err := w.m.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: string(pod.UID)})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, st := range cs {
		if st.State != runtime.ContainerRunning {
			continue
		}
		c := findContainer(&pod.Spec, st.Name)
		if c == nil {
			c = &corev1.Container{Name: st.Name}
		}
		w.m.containerEvent(pod, c, corev1.EventTypeNormal, reasonKilling, "Stopping container %s", c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.killContainer(ctx, pod, c, st.ID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.m.event(pod, corev1.EventTypeWarning, reasonFailedKillPod, "error killing pod: %v", err)
		return err
	}
	if err := w.m.rt.StopSandbox(ctx, string(pod.UID)); err != nil {
		return err
	}
	w.sandbox = nil
	if !removed {
		actx, cancel := context.WithTimeout(ctx, w.m.cfg.APITimeout)
		defer cancel()
		uid := pod.UID
		err := w.m.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(actx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod: %w", err)
		}
	}
	return w.m.cleanupPod(ctx, string(pod.UID))
}

// containerID resolves a container name to the runtime ID that `kubectl logs` reads, from the
// last computed status, as the kubelet does.
func (w *worker) containerID(name string, previous bool) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == nil {
		return "", errContainerNotFound(fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, w.pod.Name, waitingContainerCreating))
	}
	var st *corev1.ContainerStatus
	for _, list := range [][]corev1.ContainerStatus{w.status.ContainerStatuses, w.status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				st = &list[i]
			}
		}
	}
	if st == nil {
		return "", errContainerNotFound(fmt.Sprintf("container %s is not valid for pod %s", name, w.pod.Name))
	}
	id := ""
	switch {
	case previous:
		if t := st.LastTerminationState.Terminated; t != nil {
			id = t.ContainerID
		}
		if id == "" {
			return "", errContainerNotFoundSentinel
		}
	case st.State.Running != nil:
		id = st.ContainerID
	case st.State.Terminated != nil && st.State.Terminated.ContainerID != "":
		id = st.State.Terminated.ContainerID
	case st.LastTerminationState.Terminated != nil:
		id = st.LastTerminationState.Terminated.ContainerID
	case st.State.Waiting != nil:
		msg := st.State.Waiting.Reason
		switch msg {
		case waitingErrImagePull:
			msg = "image can't be pulled"
		case waitingImagePullBackOff:
			msg = "trying and failing to pull image"
		}
		return "", errContainerNotFound(fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, w.pod.Name, msg))
	}
	if id == "" {
		return "", errContainerNotFoundSentinel
	}
	return strings.TrimPrefix(id, containerIDPrefix), nil
}
