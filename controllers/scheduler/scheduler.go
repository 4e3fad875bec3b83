package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/controllers/scheduler/placement"
)

// Defaults and fixed timings of the scheduler.
const (
	// DefaultSchedulerName is the scheduler name pods ask for when spec.schedulerName is empty.
	DefaultSchedulerName = corev1.DefaultSchedulerName
	// DefaultBatchSize is how many pods one pass places and binds in one Binder call.
	DefaultBatchSize = 256
	// AssumedPodTTL is how long a bound pod counts against its node while the pod informer
	// does not show the binding.
	AssumedPodTTL = 30 * time.Second
	// InitialBackoff is the wait before a pod that failed once is tried again; it doubles
	// with every further failure up to MaxBackoff.
	InitialBackoff = time.Second
	// MaxBackoff caps the wait between two attempts of a pod.
	MaxBackoff = 60 * time.Second
)

// Binder writes bindings to the store. The scheduler calls Bind from one goroutine at a
// time, once per pass, with the pods it placed in that pass; it does not call it again
// for a pod whose binding succeeded.
type Binder interface {
	// Bind binds many pods in one store transaction; each binding succeeds or fails on its
	// own (a pod changed or deleted meanwhile fails with a Conflict or NotFound error). It
	// returns one error, nil on success, per binding, in order; a missing result counts as
	// ErrNoBindResult. A binding must fail, not apply, when the stored pod's resourceVersion
	// differs from Binding.Pod's or the pod is already bound. Bind must not modify the
	// bindings or the pods, nor keep them after it returns; the returned slice becomes the
	// scheduler's. When ctx is done, bindings not yet written should fail with ctx's error.
	Bind(ctx context.Context, bindings []Binding) []error
}

// Binding assigns a pod to a node.
type Binding struct {
	// Pod is the pod as the scheduler saw it: its resourceVersion is the precondition. It
	// is a shared cache object: read-only.
	Pod *corev1.Pod
	// Node is the name of the node the pod is bound to.
	Node string
}

// Options configure a Scheduler. Zero fields take their defaults.
type Options struct {
	// SchedulerName is the spec.schedulerName of the pods this scheduler places
	// (DefaultSchedulerName; a pod with an empty schedulerName asks for that one).
	SchedulerName string
	// BatchSize is the most pods bound per Binder call (DefaultBatchSize).
	BatchSize int
	// Clock is the source of time for back-offs, assumed-pod expiry and condition
	// timestamps (the wall clock).
	Clock clock.Clock
	// PercentageOfNodesToScore is kube-scheduler's setting of that name (see
	// placement.Options): 0 picks the adaptive share (42% of 1,000 nodes, never fewer
	// than 100 nodes), 100 scores every feasible node. Successive pods start their
	// search where the previous one stopped, so every node gets its turn.
	PercentageOfNodesToScore int32
}

// DefaultOptions returns the options NewScheduler uses for zero fields.
func DefaultOptions() Options {
	return Options{SchedulerName: DefaultSchedulerName, BatchSize: DefaultBatchSize, Clock: clock.RealClock{}}
}

// withDefaults returns o with its zero (or, for BatchSize, non-positive) fields defaulted.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.SchedulerName == "" {
		o.SchedulerName = d.SchedulerName
	}
	if o.BatchSize <= 0 {
		o.BatchSize = d.BatchSize
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	return o
}

// Scheduler assigns pending pods to nodes. Create it with NewScheduler before the informers
// start, then call Run once; tests may call ScheduleOnce instead.
type Scheduler struct {
	client     kubernetes.Interface
	binder     Binder
	recorder   record.EventRecorder
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	opts       Options

	queue   *queue
	assumed *assumedPods
	// nodes caches the NodeInfos of the bound pods; nil when the pod informer could not
	// be indexed by node, and every pass then builds them from scratch.
	nodes *nodeCache
	// nextStart is the node index the next placement search starts from; only the pass
	// holding passes uses it.
	nextStart int
	// passes serialises ScheduleOnce: one pass at a time.
	passes chan struct{}
	// binding is held while a pipelined pass's Binder call is in flight: one at a time.
	binding chan struct{}

	// handlers are the informer registrations Run waits for and removes.
	handlers []registration
}

// registration is one event handler added to one shared informer.
type registration struct {
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration
}

// NewScheduler returns a scheduler that reads pods and nodes from the informers, binds
// through binder, writes pod status through client and records events with recorder. It
// registers event handlers on both informers; Run removes them when it returns.
func NewScheduler(client kubernetes.Interface, binder Binder, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, recorder record.EventRecorder, opts Options) *Scheduler {
	opts = opts.withDefaults()
	s := &Scheduler{
		client:     client,
		binder:     binder,
		recorder:   recorder,
		podLister:  podInformer.Lister(),
		nodeLister: nodeInformer.Lister(),
		opts:       opts,
		queue:      newQueue(opts.Clock, InitialBackoff, MaxBackoff),
		assumed:    newAssumedPods(AssumedPodTTL),
		passes:     make(chan struct{}, 1),
		binding:    make(chan struct{}, 1),
	}
	if nodes, err := newNodeCache(podInformer.Informer()); err != nil {
		utilruntime.HandleError(err) // every pass builds the snapshot from scratch
	} else {
		s.nodes = nodes
	}
	s.addHandler(podInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    s.addPod,
		UpdateFunc: s.updatePod,
		DeleteFunc: s.deletePod,
	})
	s.addHandler(nodeInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    s.addNode,
		UpdateFunc: s.updateNode,
		DeleteFunc: s.deleteNode,
	})
	return s
}

// addHandler registers h on informer and remembers the registration.
func (s *Scheduler) addHandler(informer cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	handle, err := informer.AddEventHandler(h)
	if err != nil {
		// Only a stopped informer refuses handlers; Run's cache sync then never completes.
		utilruntime.HandleError(fmt.Errorf("scheduler: adding event handler: %w", err))
		return
	}
	s.handlers = append(s.handlers, registration{informer: informer, handle: handle})
}

// Run waits for the informers to sync, then schedules pending pods until ctx is done: a
// pass whenever pods are active, otherwise it sleeps until a pod becomes active or a
// back-off ends. Each pass's binding runs in a goroutine while the next pass places pods
// (one binding in flight at a time); when Run returns, that goroutine has ended and the
// event handlers are removed.
// Run must be called at most once.
func (s *Scheduler) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("controller", "scheduler", "schedulerName", s.opts.SchedulerName)
	logger.Info("Starting scheduler")
	defer func() {
		for _, r := range s.handlers {
			if err := r.informer.RemoveEventHandler(r.handle); err != nil {
				logger.Error(err, "Removing event handler")
			}
		}
		logger.Info("Shutting down scheduler")
	}()
	synced := make([]cache.InformerSynced, 0, 2*len(s.handlers))
	for _, r := range s.handlers {
		synced = append(synced, r.informer.HasSynced, r.handle.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	ctx = klog.NewContext(ctx, logger)
	var binding sync.WaitGroup
	defer binding.Wait()
	for ctx.Err() == nil {
		if err := s.schedulePipelined(ctx, &binding); err != nil {
			logger.Error(err, "Scheduling pass")
		}
		if s.queue.activeLen() > 0 {
			continue
		}
		s.sleep(ctx)
	}
}

// sleep returns when ctx is done, a pod becomes active or the first back-off ends.
func (s *Scheduler) sleep(ctx context.Context) {
	var timeout <-chan time.Time
	if next, ok := s.queue.nextReady(); ok {
		t := s.opts.Clock.NewTimer(max(next.Sub(s.opts.Clock.Now()), 0))
		defer t.Stop()
		timeout = t.C()
	}
	select {
	case <-ctx.Done():
	case <-s.queue.wake:
	case <-timeout:
	}
}

// placedPod is a pod placed in a pass, waiting for its binding's result.
type placedPod struct {
	item    *queuedPod
	binding Binding
}

// unschedulablePod is a pod that fit on no node in a pass.
type unschedulablePod struct {
	item *queuedPod
	pod  *corev1.Pod
	err  error
}

// ScheduleOnce runs one pass: it takes up to BatchSize active pods (highest priority, then
// oldest, first), places them one by one against the nodes as the informers show them plus
// the pods placed but not yet seen bound, binds the placed ones with one Binder call, and
// reports those that fit nowhere on their PodScheduled condition and with a
// FailedScheduling event. It returns the number of pods bound, and the errors of status
// writes other than conflicts. Passes never overlap: a concurrent call waits.
func (s *Scheduler) ScheduleOnce(ctx context.Context) (bound int, err error) {
	select {
	case s.passes <- struct{}{}:
		defer func() { <-s.passes }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	placed, failed, err := s.place()
	if err != nil {
		return 0, err
	}
	bound = s.bind(ctx, placed)
	return bound, s.reportFailed(ctx, failed)
}

// schedulePipelined is the pass Run makes: ScheduleOnce, except that the binding runs in a
// goroutine, so that the next pass places pods while this one's are being written. There
// is at most one binding in flight (Binder calls stay serial): it first waits for the
// previous pass's binding. The pods being bound count as assumed in the next pass's
// snapshot, as bound pods the informer does not show yet do. wg tracks the goroutine; the
// queue is signalled when it ends, so that pods it sent back to the queue are seen.
func (s *Scheduler) schedulePipelined(ctx context.Context, wg *sync.WaitGroup) error {
	select {
	case s.passes <- struct{}{}:
		defer func() { <-s.passes }()
	case <-ctx.Done():
		return ctx.Err()
	}
	placed, failed, err := s.place()
	if err != nil {
		return err
	}
	if len(placed) > 0 {
		select {
		case s.binding <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-s.binding }()
				bound := s.bind(ctx, placed)
				klog.FromContext(ctx).V(4).Info("Bound pods", "bound", bound, "placed", len(placed))
				s.queue.signal()
			}()
		case <-ctx.Done():
			// Shutting down: nothing was written; the next leader schedules these pods.
			for _, p := range placed {
				s.assumed.forget(p.binding.Pod.UID)
				s.queue.done(p.item, outcomeError)
			}
		}
	}
	return s.reportFailed(ctx, failed)
}

// reportFailed reports the pods that fit nowhere and sends them back to the queue; it
// returns the errors of status writes other than conflicts.
func (s *Scheduler) reportFailed(ctx context.Context, failed []unschedulablePod) error {
	var errs []error
	for _, f := range failed {
		if err := s.reportUnschedulable(ctx, f.pod, f.err.Error()); err != nil {
			errs = append(errs, err)
		}
		s.queue.done(f.item, outcomeUnschedulable)
	}
	return errors.Join(errs...)
}

// place runs the placement half of a pass: it takes up to BatchSize active pods, places
// them against a snapshot and assumes the placed ones. It returns the placed pods, to be
// bound, and those that fit nowhere, to be reported. The caller holds the passes token.
func (s *Scheduler) place() ([]placedPod, []unschedulablePod, error) {
	items := s.queue.take(s.opts.BatchSize)
	if len(items) == 0 {
		return nil, nil, nil
	}
	snap, err := s.snapshot()
	if err != nil {
		for _, it := range items {
			s.queue.done(it, outcomeError)
		}
		return nil, nil, err
	}

	var placed []placedPod
	var failed []unschedulablePod
	for _, it := range items {
		pod, ok := s.pendingPod(it.key)
		if !ok {
			s.queue.done(it, outcomeDone)
			continue
		}
		res, err := placement.PlaceWithOptions(pod, snap.nodes, placement.Options{PercentageOfNodesToScore: s.opts.PercentageOfNodesToScore, Start: s.nextStart})
		s.nextStart = res.Next
		if err != nil {
			failed = append(failed, unschedulablePod{item: it, pod: pod, err: err})
			continue
		}
		// A shallow copy: only spec.nodeName differs, and nothing shared is modified.
		assumed := *pod
		assumed.Spec.NodeName = res.Node
		snap.addPod(res.Node, &assumed)
		s.assumed.assume(&assumed, pod.ResourceVersion)
		placed = append(placed, placedPod{item: it, binding: Binding{Pod: pod, Node: res.Node}})
	}
	return placed, failed, nil
}

// pendingPod returns the pod behind key when it still needs scheduling and was not bound
// by an earlier pass.
func (s *Scheduler) pendingPod(key string) (*corev1.Pod, bool) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, false
	}
	pod, err := s.podLister.Pods(ns).Get(name)
	if err != nil || !s.isPending(pod) || s.assumed.isBound(pod) {
		return nil, false
	}
	return pod, true
}

// bind binds the placed pods in one Binder call and records the results; it returns how
// many were bound.
func (s *Scheduler) bind(ctx context.Context, placed []placedPod) int {
	if len(placed) == 0 {
		return 0
	}
	bindings := make([]Binding, len(placed))
	for i := range placed {
		bindings[i] = placed[i].binding
	}
	results := s.binder.Bind(ctx, bindings)
	now := s.opts.Clock.Now()
	bound := 0
	for i, p := range placed {
		pod := p.binding.Pod
		err := ErrNoBindResult
		if i < len(results) {
			err = results[i]
		}
		switch {
		case err == nil:
			s.assumed.finish(pod.UID, now, true)
			s.queue.done(p.item, outcomeDone)
			s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, p.binding.Node)
			bound++
			continue
		case apierrors.IsNotFound(err):
			s.assumed.forget(pod.UID)
			s.queue.done(p.item, outcomeDone)
			continue
		case outcomeUnknown(err):
			// The binding may have been written: keep counting the pod until the informer
			// tells, and retry it after its back-off (the precondition stops a second write).
			s.assumed.finish(pod.UID, now, false)
		default:
			s.assumed.forget(pod.UID)
		}
		s.queue.done(p.item, outcomeError)
		if ctx.Err() != nil {
			continue // shutting down: the next leader schedules the pod
		}
		klog.FromContext(ctx).V(2).Info("Binding rejected", "pod", klog.KObj(pod), "node", p.binding.Node, "err", err)
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "%s", truncate(fmt.Sprintf("binding rejected: %v", err)))
	}
	return bound
}

// outcomeUnknown reports whether err leaves it unknown whether a binding was written.
func outcomeUnknown(err error) bool {
	return apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// snapshot is the cluster as one pass sees it.
type snapshot struct {
	nodes  []*placement.NodeInfo
	byName map[string]*placement.NodeInfo
	// shared marks the NodeInfos that belong to the scheduler's node cache: they are
	// cloned before a pod is added to them.
	shared map[string]bool
}

// addPod counts pod on the node called name, copying that node's cached NodeInfo first.
// It ignores nodes not in the snapshot.
func (s *snapshot) addPod(name string, pod *corev1.Pod) {
	n, ok := s.byName[name]
	if !ok {
		return
	}
	if s.shared[name] {
		n = n.Clone()
		delete(s.shared, name)
		s.byName[name] = n
		i := sort.Search(len(s.nodes), func(i int) bool { return s.nodes[i].Node.Name >= name })
		s.nodes[i] = n
	}
	n.AddPod(pod)
}

// snapshot builds the NodeInfos of every node: the bound, non-terminal pods on it, plus the
// pods placed on it that still count as assumed and that those NodeInfos do not count yet.
// The NodeInfos of bound pods are cached between passes and kept up to date from the pod
// events (see nodeCache); without the pod index, every pass builds them all from the pod
// lister.
func (s *Scheduler) snapshot() (*snapshot, error) {
	nodes, err := s.nodeLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("scheduler: listing nodes: %w", err)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	if s.nodes != nil {
		return s.cachedSnapshot(nodes)
	}
	snap := &snapshot{nodes: make([]*placement.NodeInfo, len(nodes)), byName: make(map[string]*placement.NodeInfo, len(nodes))}
	for i, n := range nodes {
		snap.nodes[i] = placement.NewNodeInfo(n)
		snap.byName[n.Name] = snap.nodes[i]
	}
	pods, err := s.podLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("scheduler: listing pods: %w", err)
	}
	assumed := s.assumed.counting(s.opts.Clock.Now())
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			continue
		}
		delete(assumed, p.UID) // the informer shows it bound: count that version
		if isTerminal(p) {
			continue
		}
		if n, ok := snap.byName[p.Spec.NodeName]; ok {
			n.AddPod(p)
		}
	}
	for _, p := range assumed {
		if n, ok := snap.byName[p.Spec.NodeName]; ok {
			n.AddPod(p)
		}
	}
	return snap, nil
}

// cachedSnapshot is snapshot with the node cache, for nodes sorted by name.
func (s *Scheduler) cachedSnapshot(nodes []*corev1.Node) (*snapshot, error) {
	infos, err := s.nodes.infos(nodes)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{nodes: infos, byName: make(map[string]*placement.NodeInfo, len(nodes)), shared: make(map[string]bool, len(nodes))}
	for i, n := range nodes {
		snap.byName[n.Name] = infos[i]
		snap.shared[n.Name] = true
	}
	for _, p := range s.assumed.counting(s.opts.Clock.Now()) {
		// Ask the cache, not the pod lister: the lister can show the binding before the
		// handlers have told the cache, and the pod would then count nowhere.
		if s.nodes.counts(p.Spec.NodeName, p.UID) {
			continue // its node's NodeInfo counts the bound version
		}
		snap.addPod(p.Spec.NodeName, p)
	}
	return snap, nil
}

// isPending reports whether pod waits for this scheduler: unassigned, asking for this
// scheduler, without scheduling gates, not being deleted and not finished.
func (s *Scheduler) isPending(pod *corev1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return pod.Spec.NodeName == "" &&
		name == s.opts.SchedulerName &&
		len(pod.Spec.SchedulingGates) == 0 &&
		pod.DeletionTimestamp == nil &&
		!isTerminal(pod)
}

// isTerminal reports whether pod has finished.
func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// countsOnNode reports whether pod holds resources on a node.
func countsOnNode(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && !isTerminal(pod)
}
