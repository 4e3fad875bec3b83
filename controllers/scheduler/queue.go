package scheduler

import (
	"container/heap"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// podState is where a queued pod is.
type podState int

const (
	// stateActive pods wait in the active heap for the next pass.
	stateActive podState = iota
	// stateWaiting pods back off until readyAt, or until a cluster event moves them when
	// they are unschedulable.
	stateWaiting
	// stateInFlight pods were taken by a pass that has not reported their outcome yet.
	stateInFlight
)

// outcome is what a pass did with a pod it took from the queue.
type outcome int

const (
	// outcomeDone: the pod was bound, or no longer needs scheduling; it leaves the queue.
	outcomeDone outcome = iota
	// outcomeUnschedulable: no node fits; the pod waits for a cluster event or its back-off.
	outcomeUnschedulable
	// outcomeError: the pod fit but could not be bound; it waits for its back-off.
	outcomeError
)

// queuedPod is one pending pod in the queue.
type queuedPod struct {
	key      string
	priority int32
	created  time.Time
	state    podState
	// unschedulable marks a waiting pod that fit on no node: cluster events move it back.
	unschedulable bool
	readyAt       time.Time
	attempts      int
	// takenAt is the queue's move count when a pass took the pod.
	takenAt uint64
	// changed records that the pod was updated while in flight.
	changed bool
	// index is the pod's position in the active heap.
	index int
}

// queue holds the pending pods of one scheduler by "namespace/name" key: an active heap
// ordered by priority, then age, then key; and waiting pods that back off (InitialBackoff
// doubling to MaxBackoff per failed attempt) or, when unschedulable, wait for a node or
// pod event. It is safe for concurrent use: informer handlers add and move pods while a
// pass takes and returns them.
type queue struct {
	clock                      clock.PassiveClock
	initialBackoff, maxBackoff time.Duration
	// wake receives a value, without blocking, whenever pods become active.
	wake chan struct{}

	mu    sync.Mutex // protects items, active, waiting and moves
	items map[string]*queuedPod
	// active holds the stateActive pods and waiting the stateWaiting ones.
	active  activeHeap
	waiting map[string]*queuedPod
	// moves counts moveAll calls, so that a pass can tell whether the cluster changed
	// while it was placing a pod.
	moves uint64
}

// newQueue returns an empty queue.
func newQueue(clk clock.PassiveClock, initialBackoff, maxBackoff time.Duration) *queue {
	return &queue{
		clock:          clk,
		initialBackoff: initialBackoff,
		maxBackoff:     maxBackoff,
		wake:           make(chan struct{}, 1),
		items:          make(map[string]*queuedPod),
		waiting:        make(map[string]*queuedPod),
	}
}

// signal wakes the scheduling loop. The caller holds q.mu.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// activate moves it to the active heap. The caller holds q.mu.
func (q *queue) activate(it *queuedPod) {
	delete(q.waiting, it.key)
	it.state = stateActive
	it.unschedulable = false
	heap.Push(&q.active, it)
	q.signal()
}

// add records pod as pending. A new pod becomes active; a waiting pod becomes active when
// changed says its spec changed (it may fit now); a pod in flight is marked so that a
// failure sends it straight back to the active heap.
func (q *queue) add(pod *corev1.Pod, changed bool) {
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[key]
	if !ok {
		it = &queuedPod{key: key, priority: priorityOf(pod), created: pod.CreationTimestamp.Time}
		q.items[key] = it
		q.activate(it)
		return
	}
	if p := priorityOf(pod); p != it.priority {
		it.priority = p
		if it.state == stateActive {
			heap.Fix(&q.active, it.index)
		}
	}
	if !changed {
		return
	}
	switch it.state {
	case stateWaiting:
		q.activate(it)
	case stateInFlight:
		it.changed = true
	}
}

// remove forgets key. A pass holding it in flight finds it gone when it reports.
func (q *queue) remove(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[key]
	if !ok {
		return
	}
	if it.state == stateActive {
		heap.Remove(&q.active, it.index)
	}
	delete(q.waiting, key)
	delete(q.items, key)
}

// take moves every waiting pod whose back-off has ended to the active heap, then takes up
// to n active pods, best first, and marks them in flight.
func (q *queue) take(n int) []*queuedPod {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for _, it := range q.waiting {
		if !now.Before(it.readyAt) {
			q.activate(it)
		}
	}
	var out []*queuedPod
	for len(out) < n && q.active.Len() > 0 {
		it := heap.Pop(&q.active).(*queuedPod)
		it.state = stateInFlight
		it.takenAt = q.moves
		it.changed = false
		out = append(out, it)
	}
	return out
}

// done reports what a pass did with it. Failed pods back off; an unschedulable pod goes
// straight back to the active heap when the cluster changed while it was in flight, and a
// pod updated while in flight does so whatever the failure.
func (q *queue) done(it *queuedPod, o outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items[it.key] != it {
		return // removed, or replaced by a newer pod of the same name, meanwhile
	}
	if o == outcomeDone {
		delete(q.items, it.key)
		return
	}
	it.attempts++
	if it.changed || (o == outcomeUnschedulable && it.takenAt != q.moves) {
		q.activate(it)
		return
	}
	it.state = stateWaiting
	it.unschedulable = o == outcomeUnschedulable
	it.readyAt = q.clock.Now().Add(q.backoff(it.attempts))
	q.waiting[it.key] = it
}

// backoff returns the wait after the given number of failed attempts.
func (q *queue) backoff(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return min(d, q.maxBackoff)
}

// moveAll moves every unschedulable pod to the active heap: the cluster changed, so they
// may fit now.
func (q *queue) moveAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moves++
	for _, it := range q.waiting {
		if it.unschedulable {
			q.activate(it)
		}
	}
}

// nextReady returns when the first waiting pod's back-off ends, and false when no pod
// waits.
func (q *queue) nextReady() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	found := false
	for _, it := range q.waiting {
		if !found || it.readyAt.Before(next) {
			next, found = it.readyAt, true
		}
	}
	return next, found
}

// activeLen returns the number of active pods.
func (q *queue) activeLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len()
}

// priorityOf returns pod's priority, 0 when unset.
func priorityOf(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// activeHeap orders active pods: higher priority first, then older, then by key.
type activeHeap []*queuedPod

var _ heap.Interface = (*activeHeap)(nil)

// Len implements heap.Interface.
func (h activeHeap) Len() int { return len(h) }

// Less implements heap.Interface.
func (h activeHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.key < b.key
}

// Swap implements heap.Interface.
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

// Push implements heap.Interface.
func (h *activeHeap) Push(x any) {
	it := x.(*queuedPod)
	it.index = len(*h)
	*h = append(*h, it)
}

// Pop implements heap.Interface.
func (h *activeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
