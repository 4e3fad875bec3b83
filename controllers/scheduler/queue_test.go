package scheduler

import (
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestQueueInFlight(t *testing.T) {
	tests := []struct {
		name string
		// during acts on the queue while the pod is in flight.
		during  func(q *queue)
		outcome outcome
		// wantActive says whether the pod is active right after the pass reports.
		wantActive bool
		wantQueued bool
	}{
		{name: "unschedulable backs off", during: func(*queue) {}, outcome: outcomeUnschedulable, wantActive: false, wantQueued: true},
		{name: "cluster changed meanwhile", during: func(q *queue) { q.moveAll() }, outcome: outcomeUnschedulable, wantActive: true, wantQueued: true},
		{name: "cluster change does not hurry a binding error", during: func(q *queue) { q.moveAll() }, outcome: outcomeError, wantActive: false, wantQueued: true},
		{name: "pod changed meanwhile", during: func(q *queue) { q.add(makePod("p", 0, "", "", ""), true) }, outcome: outcomeError, wantActive: true, wantQueued: true},
		{name: "status-only update meanwhile", during: func(q *queue) { q.add(makePod("p", 0, "", "", ""), false) }, outcome: outcomeUnschedulable, wantActive: false, wantQueued: true},
		{name: "removed meanwhile", during: func(q *queue) { q.remove("default/p") }, outcome: outcomeUnschedulable, wantActive: false, wantQueued: false},
		{name: "bound", during: func(*queue) {}, outcome: outcomeDone, wantActive: false, wantQueued: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(testingclock.NewFakeClock(t0), InitialBackoff, MaxBackoff)
			q.add(makePod("p", 0, "", "", ""), false)
			items := q.take(10)
			if len(items) != 1 {
				t.Fatalf("take() = %d pods; want 1", len(items))
			}
			tt.during(q)
			q.done(items[0], tt.outcome)
			if got := q.activeLen() == 1; got != tt.wantActive {
				t.Errorf("active = %v; want %v", got, tt.wantActive)
			}
			q.mu.Lock()
			_, queued := q.items["default/p"]
			q.mu.Unlock()
			if queued != tt.wantQueued {
				t.Errorf("queued = %v; want %v", queued, tt.wantQueued)
			}
		})
	}
}

func TestQueueReplacedWhileInFlight(t *testing.T) {
	q := newQueue(testingclock.NewFakeClock(t0), InitialBackoff, MaxBackoff)
	q.add(makePod("p", 0, "", "", ""), false)
	old := q.take(1)[0]
	q.remove("default/p")
	q.add(makePod("p", 5, "", "", ""), false) // a new pod of the same name
	q.done(old, outcomeDone)
	if got := q.activeLen(); got != 1 {
		t.Errorf("active pods = %d; want the new pod", got)
	}
}

func TestQueueBackoffEnds(t *testing.T) {
	clk := testingclock.NewFakeClock(t0)
	q := newQueue(clk, InitialBackoff, MaxBackoff)
	q.add(makePod("p", 0, "", "", ""), false)
	q.done(q.take(1)[0], outcomeError)
	next, ok := q.nextReady()
	if !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("nextReady() = %v, %v; want %v, true", next, ok, t0.Add(time.Second))
	}
	if got := len(q.take(1)); got != 0 {
		t.Errorf("take() during the back-off = %d pods; want 0", got)
	}
	clk.Step(time.Second)
	if got := len(q.take(1)); got != 1 {
		t.Errorf("take() after the back-off = %d pods; want 1", got)
	}
	if _, ok := q.nextReady(); ok {
		t.Error("nextReady() reports a waiting pod; want none")
	}
}

func TestQueueWakes(t *testing.T) {
	q := newQueue(testingclock.NewFakeClock(t0), InitialBackoff, MaxBackoff)
	select {
	case <-q.wake:
		t.Fatal("an empty queue signalled")
	default:
	}
	q.add(makePod("p", 0, "", "", ""), false)
	select {
	case <-q.wake:
	default:
		t.Fatal("adding a pod did not signal")
	}
	q.done(q.take(1)[0], outcomeUnschedulable)
	q.moveAll()
	select {
	case <-q.wake:
	default:
		t.Fatal("moving an unschedulable pod did not signal")
	}
}
