package pods

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// tombstoneTTL is how long the UID of a finished pod is remembered, so that late informer
// events do not start it again.
const tombstoneTTL = 10 * time.Minute

// Manager runs one worker per pod bound to this node. Sync and Remove feed it pods; Run drives
// the workers. All methods are safe for concurrent use.
type Manager struct {
	cfg     Config
	rt      runtime.Runtime
	log     *slog.Logger
	clock   clock.WithTicker
	backoff *backoff

	mu           sync.Mutex // protects the fields below
	workers      map[types.UID]*worker
	byName       map[types.NamespacedName]types.UID
	tombstones   map[types.UID]time.Time
	sandboxes    map[string]*runtime.Sandbox // recorded sandboxes found by Run, by pod UID
	spawn        func(*worker)               // starts a worker goroutine while Run runs, else nil
	sourcesReady bool
}

var _ kubeletapi.Pods = (*Manager)(nil)

// New validates cfg and returns a Manager; nothing runs until Run.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Manager{
		cfg:        cfg,
		rt:         cfg.Runtime,
		log:        cfg.Logger,
		clock:      cfg.Clock,
		backoff:    newBackoff(cfg.Clock, cfg.BackoffBase, cfg.BackoffMax),
		workers:    map[types.UID]*worker{},
		byName:     map[types.NamespacedName]types.UID{},
		tombstones: map[types.UID]time.Time{},
	}, nil
}

// Run adopts what the runtime already runs, then runs the pod workers until ctx ends. Running
// containers of known pods are left running; sandboxes whose network namespace vanished (host
// reboot) are set up again by their pod's worker, which then recreates the containers.
// Sandboxes and containers of pods that Sync never names are removed once SetSourcesReady has
// been called. Run returns after every goroutine it started has ended; it does not stop pods
// on exit. It may be called once.
func (m *Manager) Run(ctx context.Context) error {
	sbs, err := m.rt.ListSandboxes(ctx)
	if err != nil {
		return fmt.Errorf("pods: list sandboxes: %w", err)
	}
	var wg sync.WaitGroup
	m.mu.Lock()
	if m.spawn != nil {
		m.mu.Unlock()
		return errors.New("pods: Run called twice")
	}
	m.sandboxes = map[string]*runtime.Sandbox{}
	for _, sb := range sbs {
		m.sandboxes[sb.UID] = sb
	}
	m.spawn = func(w *worker) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, &wg)
		}()
	}
	for _, w := range m.workers {
		m.startLocked(w)
	}
	m.mu.Unlock()

	wg.Add(2)
	go func() {
		defer wg.Done()
		m.runEvents(ctx)
	}()
	go func() {
		defer wg.Done()
		m.runHousekeeping(ctx)
	}()
	<-ctx.Done()
	m.mu.Lock()
	m.spawn = nil
	m.mu.Unlock()
	wg.Wait()
	return nil
}

// startLocked starts w's goroutine once. m.mu must be held.
func (m *Manager) startLocked(w *worker) {
	if m.spawn == nil || w.started {
		return
	}
	w.started = true
	if sb, ok := m.sandboxes[string(w.uid)]; ok {
		w.sandbox = sb
	}
	m.spawn(w)
}

// runEvents routes runtime events to the workers of their pods until ctx ends or the runtime
// closes its channel.
func (m *Manager) runEvents(ctx context.Context) {
	events := m.rt.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			m.mu.Lock()
			if e.Type == runtime.EventResync {
				for _, w := range m.workers {
					w.poke()
				}
			} else if w, ok := m.workers[types.UID(e.PodUID)]; ok {
				w.poke()
			}
			m.mu.Unlock()
		}
	}
}

// runHousekeeping periodically forgets old back-offs and tombstones and, once the sources are
// ready, removes what the runtime runs for pods that have no worker. It ends with ctx.
func (m *Manager) runHousekeeping(ctx context.Context) {
	t := m.clock.NewTicker(m.cfg.ResyncPeriod)
	defer t.Stop()
	for {
		m.housekeeping(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// housekeeping does one round of runHousekeeping.
func (m *Manager) housekeeping(ctx context.Context) {
	m.backoff.gc()
	now := m.clock.Now()
	m.mu.Lock()
	for uid, t := range m.tombstones {
		if now.Sub(t) > tombstoneTTL {
			delete(m.tombstones, uid)
		}
	}
	ready := m.sourcesReady
	known := map[string]bool{}
	for uid := range m.workers {
		known[string(uid)] = true
	}
	m.mu.Unlock()
	if !ready {
		return
	}
	orphans := map[string]bool{}
	if sbs, err := m.rt.ListSandboxes(ctx); err == nil {
		for _, sb := range sbs {
			if !known[sb.UID] {
				orphans[sb.UID] = true
			}
		}
	}
	if cs, err := m.rt.ListContainers(ctx, runtime.ContainerFilter{}); err == nil {
		for _, c := range cs {
			if !known[c.PodUID] {
				orphans[c.PodUID] = true
			}
		}
	}
	for uid := range orphans {
		m.mu.Lock()
		_, revived := m.workers[types.UID(uid)]
		m.mu.Unlock()
		if revived {
			continue
		}
		m.log.Info("removing orphaned pod", "uid", uid)
		if err := m.cleanupPod(ctx, uid); err != nil {
			m.log.Warn("cannot remove orphaned pod", "uid", uid, "err", err)
		}
	}
}

// cleanupPod removes every container, the sandbox and the directory of pod uid.
func (m *Manager) cleanupPod(ctx context.Context, uid string) error {
	var errs []error
	cs, err := m.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: uid})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			if err := m.rt.StopContainer(ctx, c.ID, 0); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := m.rt.StopSandbox(ctx, uid); err != nil {
		errs = append(errs, err)
	}
	for _, c := range cs {
		if err := m.rt.RemoveContainer(ctx, c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(m.podDir(uid)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SetSourcesReady tells the Manager that Sync has been called for every pod bound to this node
// that the API holds (the agent's informer has synced). From then on, sandboxes and containers
// of pods without a worker are removed.
func (m *Manager) SetSourcesReady() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sourcesReady = true
}

// Sync hands the Manager the latest version of a pod bound to this node, from an informer's add
// or update. Pods bound to another node, and pods that already finished here and were deleted,
// are ignored.
func (m *Manager) Sync(pod *corev1.Pod) {
	if pod == nil || pod.Spec.NodeName != m.cfg.NodeName {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dead := m.tombstones[pod.UID]; dead {
		return
	}
	w, ok := m.workers[pod.UID]
	if !ok {
		w = newWorker(m, pod.DeepCopy())
		m.workers[pod.UID] = w
		m.startLocked(w)
	} else {
		w.update(pod)
	}
	m.byName[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}] = pod.UID
	w.poke()
}

// Remove tells the Manager that the pod is gone from the API (deleted with grace period 0 or
// forced): its worker kills the containers and removes them, the sandbox and the pod directory.
func (m *Manager) Remove(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[uid]; ok {
		w.markRemoved()
		w.poke()
	}
}

// finished forgets a worker whose pod is gone; its UID is remembered for a while.
func (m *Manager) finished(w *worker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers[w.uid] == w {
		delete(m.workers, w.uid)
	}
	pod := w.currentPod()
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if m.byName[key] == w.uid {
		delete(m.byName, key)
	}
	m.tombstones[w.uid] = m.clock.Now()
}

// lookup returns the worker of pod namespace/name.
func (m *Manager) lookup(namespace, name string) (*worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid, ok := m.byName[types.NamespacedName{Namespace: namespace, Name: name}]
	if !ok {
		return nil, kubeletapi.ErrPodNotFound
	}
	w, ok := m.workers[uid]
	if !ok {
		return nil, kubeletapi.ErrPodNotFound
	}
	return w, nil
}

// PodUID returns the UID of pod namespace/name on this node, or kubeletapi.ErrPodNotFound.
func (m *Manager) PodUID(namespace, name string) (string, error) {
	w, err := m.lookup(namespace, name)
	if err != nil {
		return "", err
	}
	return string(w.uid), nil
}

// ContainerID returns the runtime ID of the container's current attempt (running, or the last
// one that ran), or with previous the last terminated attempt before the current one, as the
// kubelet resolves `kubectl logs [--previous]`. Errors match kubeletapi.ErrPodNotFound or
// kubeletapi.ErrContainerNotFound.
func (m *Manager) ContainerID(namespace, pod, container string, previous bool) (string, error) {
	w, err := m.lookup(namespace, pod)
	if err != nil {
		return "", err
	}
	return w.containerID(container, previous)
}

// Stats summarises the pods the Manager runs.
type Stats struct {
	// Pods counts the pods that have a worker (bound to this node and not yet cleaned up).
	Pods int
	// RunningPods counts the pods whose phase is Running.
	RunningPods int
	// RunningContainers counts the containers whose state is running.
	RunningContainers int
	// TerminatingPods counts pods that are being stopped (deleted in the API).
	TerminatingPods int
}

// Stats returns counts of the pods and containers the Manager runs, for node status.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	ws := make([]*worker, 0, len(m.workers))
	for _, w := range m.workers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	s := Stats{Pods: len(ws)}
	for _, w := range ws {
		w.mu.Lock()
		if w.status != nil {
			if w.status.Phase == corev1.PodRunning {
				s.RunningPods++
			}
			for _, cs := range w.status.ContainerStatuses {
				if cs.State.Running != nil {
					s.RunningContainers++
				}
			}
			for _, cs := range w.status.InitContainerStatuses {
				if cs.State.Running != nil {
					s.RunningContainers++
				}
			}
		}
		if w.pod.DeletionTimestamp != nil || w.removed {
			s.TerminatingPods++
		}
		w.mu.Unlock()
	}
	return s
}

// Pod returns a copy of the latest version of pod uid the Manager knows, with the status it
// last computed, and whether it knows the pod.
func (m *Manager) Pod(uid types.UID) (*corev1.Pod, bool) {
	m.mu.Lock()
	w, ok := m.workers[uid]
	m.mu.Unlock()
	if !ok {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pod.DeepCopy()
	if w.status != nil {
		p.Status = *w.status.DeepCopy()
	}
	return p, true
}
