package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestScheduleBatchSpreadsPods(t *testing.T) {
	objs := []runtime.Object{
		makeNode("node-a", "4", "8Gi", 110),
		makeNode("node-b", "4", "8Gi", 110),
		makeNode("node-c", "4", "8Gi", 110),
	}
	for i := range 6 {
		objs = append(objs, makePod(fmt.Sprintf("web-%d", i), i, "100m", "128Mi", "rs-web"))
	}
	f := newFixture(t, Options{}, objs...)

	if got := f.schedule(); got != 6 {
		t.Fatalf("ScheduleOnce() bound %d; want 6", got)
	}
	calls := f.binder.callLog()
	if len(calls) != 1 || len(calls[0]) != 6 {
		t.Fatalf("Bind calls = %v; want one call with 6 bindings", calls)
	}
	// Spreading and least-allocated scoring deal the pods round-robin, oldest first, ties
	// going to the first node name.
	want := []string{"web-0->node-a", "web-1->node-b", "web-2->node-c", "web-3->node-a", "web-4->node-b", "web-5->node-c"}
	if diff := cmp.Diff(want, calls[0]); diff != "" {
		t.Errorf("bindings mismatch (-want +got):\n%s", diff)
	}
	wantEvents := []string{
		"Normal Scheduled Successfully assigned default/web-0 to node-a",
		"Normal Scheduled Successfully assigned default/web-1 to node-b",
		"Normal Scheduled Successfully assigned default/web-2 to node-c",
		"Normal Scheduled Successfully assigned default/web-3 to node-a",
		"Normal Scheduled Successfully assigned default/web-4 to node-b",
		"Normal Scheduled Successfully assigned default/web-5 to node-c",
	}
	if diff := cmp.Diff(wantEvents, f.recorder.take()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if got := f.statusWrites(); len(got) != 0 {
		t.Errorf("status writes = %v; want none", got)
	}
	if got := f.schedule(); got != 0 {
		t.Errorf("second ScheduleOnce() bound %d; want 0", got)
	}
}

func TestScheduleBatchSize(t *testing.T) {
	objs := []runtime.Object{makeNode("node-a", "4", "8Gi", 110)}
	for i := range 5 {
		objs = append(objs, makePod(fmt.Sprintf("p-%d", i), i, "", "", ""))
	}
	f := newFixture(t, Options{BatchSize: 2}, objs...)
	var sizes []int
	for range 4 {
		sizes = append(sizes, f.schedule())
	}
	if diff := cmp.Diff([]int{2, 2, 1, 0}, sizes); diff != "" {
		t.Errorf("pods bound per pass mismatch (-want +got):\n%s", diff)
	}
}

func TestUnschedulable(t *testing.T) {
	tests := []struct {
		name    string
		objs    []runtime.Object
		wantMsg string
	}{
		{
			name: "resource exhaustion",
			objs: []runtime.Object{
				makeNode("node-a", "1", "8Gi", 110),
				makeNode("node-b", "1", "1Gi", 110),
				makePod("big", 0, "2", "2Gi", ""),
			},
			wantMsg: "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
		},
		{
			name: "unreachable node",
			objs: []runtime.Object{
				func() *corev1.Node {
					n := makeNode("node-a", "4", "8Gi", 110)
					n.Status.Conditions[0].Status = corev1.ConditionUnknown
					return n
				}(),
				makeNode("node-b", "1", "8Gi", 110),
				makeNode("node-c", "1", "8Gi", 110),
				makePod("big", 0, "2", "", ""),
			},
			wantMsg: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu.",
		},
		{
			name:    "no nodes",
			objs:    []runtime.Object{makePod("big", 0, "2", "", "")},
			wantMsg: "no nodes available to schedule pods",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{}, tt.objs...)
			if got := f.schedule(); got != 0 {
				t.Fatalf("ScheduleOnce() bound %d; want 0", got)
			}
			if diff := cmp.Diff([]string{"Warning FailedScheduling " + tt.wantMsg}, f.recorder.take()); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"big"}, f.statusWrites()); diff != "" {
				t.Errorf("status writes mismatch (-want +got):\n%s", diff)
			}
			want := corev1.PodCondition{
				Type:               corev1.PodScheduled,
				Status:             corev1.ConditionFalse,
				Reason:             corev1.PodReasonUnschedulable,
				Message:            tt.wantMsg,
				LastTransitionTime: metav1.NewTime(t0),
			}
			c := scheduledCondition(f.stored("big"))
			if c == nil {
				t.Fatalf("PodScheduled condition missing; want %+v", want)
			}
			if diff := cmp.Diff(want, *c); diff != "" {
				t.Errorf("PodScheduled condition mismatch (-want +got):\n%s", diff)
			}

			// Nothing is retried before the back-off ends.
			f.deliver()
			f.clock.Step(InitialBackoff - time.Millisecond)
			f.schedule()
			if got := f.recorder.take(); len(got) != 0 {
				t.Errorf("events before the back-off ended = %v; want none", got)
			}
			// The retry records the event again but leaves the unchanged condition alone.
			f.clock.Step(time.Millisecond)
			f.schedule()
			if diff := cmp.Diff([]string{"Warning FailedScheduling " + tt.wantMsg}, f.recorder.take()); diff != "" {
				t.Errorf("retry events mismatch (-want +got):\n%s", diff)
			}
			if got := f.statusWrites(); len(got) != 0 {
				t.Errorf("retry status writes = %v; want none", got)
			}
		})
	}
}

func TestUnschedulableConditionReplacesOldMessage(t *testing.T) {
	pod := makePod("big", 0, "2", "", "")
	pod.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/1 nodes are available: 1 Insufficient cpu.", LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour)),
	}}
	f := newFixture(t, Options{}, makeNode("node-a", "1", "8Gi", 110), makeNode("node-b", "1", "8Gi", 110), pod)
	f.schedule()
	c := scheduledCondition(f.stored("big"))
	want := "0/2 nodes are available: 2 Insufficient cpu."
	if c == nil || c.Message != want || !c.LastTransitionTime.Equal(&metav1.Time{Time: t0.Add(-time.Hour)}) {
		t.Errorf("PodScheduled condition = %+v; want message %q and the old transition time", c, want)
	}
}

func TestBackoffDoubles(t *testing.T) {
	f := newFixture(t, Options{}, makePod("big", 0, "2", "", ""))
	var waits []time.Duration
	last := f.clock.Now()
	for range 9 {
		f.schedule()
		f.deliver()
		next, ok := f.s.queue.nextReady()
		if !ok {
			t.Fatal("no pod waits after a failed attempt")
		}
		waits = append(waits, next.Sub(last))
		f.clock.SetTime(next)
		last = next
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		want[i] *= time.Second
	}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("back-offs mismatch (-want +got):\n%s", diff)
	}
}

func TestNodeAddedLaterGetsPendingPod(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("small", "1", "8Gi", 110), makePod("big", 0, "2", "", ""))
	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() bound %d; want 0", got)
	}
	f.deliver() // the scheduler sees its own status write: not a reason to retry
	if got := f.s.queue.activeLen(); got != 0 {
		t.Fatalf("active pods after the status write = %d; want 0", got)
	}
	f.recorder.take()

	f.addNode(makeNode("large", "4", "8Gi", 110))
	if got := f.schedule(); got != 1 {
		t.Fatalf("ScheduleOnce() after the node was added bound %d; want 1", got)
	}
	if diff := cmp.Diff([][]string{{"big->large"}}, f.binder.callLog()); diff != "" {
		t.Errorf("bindings mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Normal Scheduled Successfully assigned default/big to large"}, f.recorder.take()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestClusterEventsRetryUnschedulablePods(t *testing.T) {
	tests := []struct {
		name  string
		event func(f *fixture)
		// wantRetry says whether the pod is tried again before its back-off ends.
		wantRetry bool
	}{
		{
			name: "node uncordoned",
			event: func(f *fixture) {
				n := makeNode("node-a", "4", "8Gi", 110)
				f.updateNode(n)
			},
			wantRetry: true,
		},
		{
			name: "node heartbeat",
			event: func(f *fixture) {
				n := makeNode("node-a", "4", "8Gi", 110)
				n.Spec.Unschedulable = true
				n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(t0.Add(time.Second))
				f.updateNode(n)
			},
			wantRetry: false,
		},
		{
			name: "node deleted",
			event: func(f *fixture) {
				f.must(f.nodeStore.Delete(makeNode("node-a", "4", "8Gi", 110)))
				f.s.deleteNode(makeNode("node-a", "4", "8Gi", 110))
			},
			wantRetry: true,
		},
		{
			name: "pod spec changed",
			event: func(f *fixture) {
				p := f.stored("p").DeepCopy()
				p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}}
				f.updatePod(p)
			},
			wantRetry: true,
		},
		{
			name: "pod status changed",
			event: func(f *fixture) {
				p := f.stored("p").DeepCopy()
				p.Status.Message = "hello"
				f.updatePod(p)
			},
			wantRetry: false,
		},
		{
			name: "bound pod deleted",
			event: func(f *fixture) {
				f.deletePod("running")
			},
			wantRetry: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cordoned := makeNode("node-a", "4", "8Gi", 110)
			cordoned.Spec.Unschedulable = true
			running := makeBoundPod("running", "node-a", "1", "")
			f := newFixture(t, Options{}, cordoned, running, makePod("p", 1, "100m", "", ""))
			f.schedule()
			f.deliver()
			f.recorder.take()
			tt.event(f)
			f.schedule()
			retried := len(f.recorder.take()) > 0
			if retried != tt.wantRetry {
				t.Errorf("pod retried before its back-off = %v; want %v", retried, tt.wantRetry)
			}
		})
	}
}

func TestFailedBindingIsRetried(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "1", "8Gi", 110), makePod("p", 0, "1", "", ""))
	attempts := 0
	f.binder.fail = func(b Binding) error {
		attempts++
		if attempts == 1 {
			return apierrors.NewInternalError(errors.New("disk full"))
		}
		return nil
	}
	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() bound %d; want 0", got)
	}
	wantEvents := []string{`Warning FailedScheduling binding rejected: Internal error occurred: disk full`}
	if diff := cmp.Diff(wantEvents, f.recorder.take()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if got := f.s.assumed.len(); got != 0 {
		t.Errorf("assumed pods after the failed binding = %d; want 0", got)
	}
	if got := f.statusWrites(); len(got) != 0 {
		t.Errorf("status writes = %v; want none", got)
	}
	// The pod backs off, then binds on the node its failed binding had not really taken.
	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() during the back-off bound %d; want 0", got)
	}
	f.clock.Step(InitialBackoff)
	if got := f.schedule(); got != 1 {
		t.Fatalf("ScheduleOnce() after the back-off bound %d; want 1", got)
	}
	if got := f.stored("p").Spec.NodeName; got != "node-a" {
		t.Errorf("stored pod's node = %q; want node-a", got)
	}
}

func TestBindingWithUnknownOutcome(t *testing.T) {
	f := newFixture(t, Options{BatchSize: 1}, makeNode("node-a", "1", "8Gi", 110), makePod("p1", 0, "1", "", ""), makePod("p2", 1, "1", "", ""))
	// The binding is written, but the Binder cannot tell.
	f.binder.fail = func(b Binding) error {
		if err := f.binder.apply(b); err != nil {
			return err
		}
		return apierrors.NewTimeoutError("commit outcome unknown", 0)
	}
	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() bound %d; want 0", got)
	}
	f.binder.fail = nil
	// p1 may be bound: it still counts, so p2 does not fit.
	f.recorder.take()
	f.schedule()
	want := []string{"Warning FailedScheduling 0/1 nodes are available: 1 Insufficient cpu."}
	if diff := cmp.Diff(want, f.recorder.take()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// p1 is retried after its back-off; its retry fails on the precondition, never binding
	// it twice.
	f.clock.Step(InitialBackoff)
	f.schedule()
	f.binder.mu.Lock()
	nodes := f.binder.bound["uid-p1"]
	f.binder.mu.Unlock()
	if diff := cmp.Diff([]string{"node-a"}, nodes); diff != "" {
		t.Errorf("bindings of p1 mismatch (-want +got):\n%s", diff)
	}
	// Once the informer shows p1 bound, neither pod is tried again.
	f.deliver()
	f.clock.Step(MaxBackoff)
	f.binder.callLog()
	f.schedule()
	f.schedule()
	for _, call := range f.binder.callLog() {
		if slices.ContainsFunc(call, func(b string) bool { return strings.HasPrefix(b, "p1->") }) {
			t.Errorf("p1 bound again after the informer showed it bound: %v", call)
		}
	}
}

func TestBindingOfDeletedPodIsDropped(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "1", "8Gi", 110), makePod("p", 0, "1", "", ""))
	f.binder.fail = func(b Binding) error { return apierrors.NewNotFound(podsResource, b.Pod.Name) }
	f.schedule()
	if got := f.recorder.take(); len(got) != 0 {
		t.Errorf("events = %v; want none", got)
	}
	f.clock.Step(MaxBackoff)
	f.schedule()
	if got := f.binder.callLog(); len(got) != 1 {
		t.Errorf("Bind calls = %v; want only the first", got)
	}
}

func TestBindingConflictRetriesWithNewVersion(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "4", "8Gi", 110), makePod("p", 0, "1", "", ""))
	// The pod changes in the store after the scheduler read it: the binding's precondition
	// fails, and the pod is retried, from its new version, once the informer shows it.
	p := f.stored("p").DeepCopy()
	p.Labels = map[string]string{"changed": "yes"}
	f.mu.Lock()
	p.ResourceVersion = f.nextRV()
	f.store[key(p)] = p
	f.mu.Unlock()

	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() bound %d; want 0", got)
	}
	if got := f.recorder.take(); len(got) != 1 || !strings.Contains(got[0], "binding rejected") {
		t.Errorf("events = %v; want one binding rejection", got)
	}
	f.deliver() // the change reaches the informer: the pod is retried at once
	if got := f.schedule(); got != 1 {
		t.Fatalf("ScheduleOnce() after the update bound %d; want 1", got)
	}
}

func TestAssumedPodsPreventDoubleBooking(t *testing.T) {
	t.Run("within one batch", func(t *testing.T) {
		f := newFixture(t, Options{}, makeNode("node-a", "1", "8Gi", 110), makePod("p1", 0, "1", "", ""), makePod("p2", 1, "1", "", ""))
		if got := f.schedule(); got != 1 {
			t.Fatalf("ScheduleOnce() bound %d; want 1", got)
		}
		want := []string{
			"Normal Scheduled Successfully assigned default/p1 to node-a",
			"Warning FailedScheduling 0/1 nodes are available: 1 Insufficient cpu.",
		}
		if diff := cmp.Diff(want, f.recorder.take()); diff != "" {
			t.Errorf("events mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("across batches before the binding is observed", func(t *testing.T) {
		f := newFixture(t, Options{BatchSize: 1}, makeNode("node-a", "1", "8Gi", 1), makePod("p1", 0, "1", "", ""), makePod("p2", 1, "", "", ""))
		if got := f.schedule(); got != 1 {
			t.Fatalf("first ScheduleOnce() bound %d; want 1", got)
		}
		f.recorder.take()
		if got := f.schedule(); got != 0 {
			t.Fatalf("second ScheduleOnce() bound %d; want 0", got)
		}
		want := []string{"Warning FailedScheduling 0/1 nodes are available: 1 Too many pods."}
		if diff := cmp.Diff(want, f.recorder.take()); diff != "" {
			t.Errorf("events mismatch (-want +got):\n%s", diff)
		}
		// Once the informer shows p1 bound, the lister counts it instead.
		f.deliver()
		if got := f.s.assumed.len(); got != 0 {
			t.Errorf("assumed pods after the binding was observed = %d; want 0", got)
		}
		f.clock.Step(InitialBackoff)
		if got := f.schedule(); got != 0 {
			t.Fatalf("third ScheduleOnce() bound %d; want 0", got)
		}
	})
	t.Run("a bound pod counts until the ttl", func(t *testing.T) {
		f := newFixture(t, Options{BatchSize: 1}, makeNode("node-a", "1", "8Gi", 110), makePod("p1", 0, "1", "", ""), makePod("p2", 1, "1", "", ""))
		f.schedule()
		f.clock.Step(AssumedPodTTL - time.Millisecond)
		if got := f.schedule(); got != 0 {
			t.Fatalf("ScheduleOnce() before the ttl bound %d; want 0", got)
		}
		// Never observed, p1 stops counting: this is the documented cost of the ttl. (The
		// binding itself fails, as p2's status write has not reached the informer.)
		f.binder.callLog()
		f.clock.Step(MaxBackoff)
		f.schedule()
		if diff := cmp.Diff([][]string{{"p2->node-a"}}, f.binder.callLog()); diff != "" {
			t.Errorf("bindings after the ttl mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestNeverBindsTwice(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "4", "8Gi", 110), makePod("p", 0, "1", "", ""))
	if got := f.schedule(); got != 1 {
		t.Fatalf("ScheduleOnce() bound %d; want 1", got)
	}
	// The informer has not caught up and replays the pending pod (as after a relist).
	cached, _, _ := f.podStore.GetByKey("default/p")
	f.s.addPod(cached)
	f.s.updatePod(cached, cached)
	f.s.queue.moveAll()
	f.clock.Step(AssumedPodTTL + time.Second) // even once the pod stops counting
	if got := f.schedule(); got != 0 {
		t.Fatalf("ScheduleOnce() with the stale pod bound %d; want 0", got)
	}
	if got := f.binder.callLog(); len(got) != 1 {
		t.Errorf("Bind calls = %v; want one", got)
	}
	f.deliver()
	if got := f.s.assumed.len(); got != 0 {
		t.Errorf("assumed pods after the binding was observed = %d; want 0", got)
	}
}

func TestPendingPods(t *testing.T) {
	now := metav1.NewTime(t0)
	tests := []struct {
		name string
		edit func(*corev1.Pod)
		want bool
	}{
		{name: "plain pending pod", edit: func(*corev1.Pod) {}, want: true},
		{name: "default scheduler by name", edit: func(p *corev1.Pod) { p.Spec.SchedulerName = "default-scheduler" }, want: true},
		{name: "another scheduler", edit: func(p *corev1.Pod) { p.Spec.SchedulerName = "other" }, want: false},
		{name: "already assigned", edit: func(p *corev1.Pod) { p.Spec.NodeName = "node-a" }, want: false},
		{name: "terminating", edit: func(p *corev1.Pod) { p.DeletionTimestamp = &now }, want: false},
		{name: "succeeded", edit: func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, want: false},
		{name: "failed", edit: func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, want: false},
		{name: "scheduling gates", edit: func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}} }, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := makePod("p", 0, "", "", "")
			tt.edit(p)
			f := newFixture(t, Options{}, makeNode("node-a", "4", "8Gi", 110), p)
			got := f.schedule() == 1
			if got != tt.want {
				t.Errorf("pod scheduled = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestOtherSchedulerName(t *testing.T) {
	p := makePod("p", 0, "", "", "")
	p.Spec.SchedulerName = "gpu-scheduler"
	q := makePod("q", 0, "", "", "")
	f := newFixture(t, Options{SchedulerName: "gpu-scheduler"}, makeNode("node-a", "4", "8Gi", 110), p, q)
	f.schedule()
	if diff := cmp.Diff([][]string{{"p->node-a"}}, f.binder.callLog()); diff != "" {
		t.Errorf("bindings mismatch (-want +got):\n%s", diff)
	}
}

func TestQueueOrder(t *testing.T) {
	high := int32(1000)
	urgent := makePod("urgent", 5, "1", "", "")
	urgent.Spec.Priority = &high
	f := newFixture(t, Options{BatchSize: 1}, makeNode("node-a", "8", "8Gi", 110),
		makePod("young", 3, "1", "", ""),
		makePod("old", 1, "1", "", ""),
		urgent,
		makePod("old-b", 1, "1", "", ""),
	)
	var order []string
	for range 4 {
		f.schedule()
		for _, call := range f.binder.callLog() {
			order = append(order, call...)
		}
	}
	want := []string{"urgent->node-a", "old->node-a", "old-b->node-a", "young->node-a"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("binding order mismatch (-want +got):\n%s", diff)
	}
}

func TestPodDeletedWhilePending(t *testing.T) {
	f := newFixture(t, Options{}, makeNode("node-a", "1", "8Gi", 110), makePod("p", 0, "2", "", ""))
	f.schedule()
	f.deletePod("p")
	f.clock.Step(MaxBackoff)
	f.recorder.take()
	f.schedule()
	if got := f.recorder.take(); len(got) != 0 {
		t.Errorf("events after the pod was deleted = %v; want none", got)
	}
	if _, ok := f.s.queue.nextReady(); ok {
		t.Error("the deleted pod still waits in the queue")
	}
}

// TestStress places 1,000 pods of 20 ReplicaSets on 100 nodes in batches, delivering each
// other pass's writes to the informer before the next, and checks that every pod is bound
// at most once, that no node is over-committed, and that pods left over are marked
// Unschedulable.
func TestStress(t *testing.T) {
	tests := []struct {
		name string
		// nodeCPU are the cpu sizes of the nodes, in turn.
		nodeCPU   []string
		wantBound int
	}{
		{name: "room for every pod", nodeCPU: []string{"2", "4", "8"}, wantBound: 1000},
		// 200 cpus for 300 requested: about two thirds fit.
		{name: "not enough room", nodeCPU: []string{"2"}, wantBound: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const numNodes, numPods = 100, 1000
			var objs []runtime.Object
			for i := range numNodes {
				objs = append(objs, makeNode(fmt.Sprintf("node-%03d", i), tt.nodeCPU[i%len(tt.nodeCPU)], "16Gi", 20))
			}
			for i := range numPods {
				cpu := fmt.Sprintf("%dm", 100*(1+i%5))
				objs = append(objs, makePod(fmt.Sprintf("pod-%04d", i), i, cpu, fmt.Sprintf("%dMi", 256*(1+i%3)), fmt.Sprintf("rs-%d", i%20)))
			}
			f := newFixture(t, Options{BatchSize: 256}, objs...)

			for passes := 1; f.s.queue.activeLen() > 0; passes++ {
				f.schedule()
				if passes%2 == 0 {
					f.deliver()
				}
				if passes > 20 {
					t.Fatal("pods still active after 20 passes")
				}
			}
			f.deliver()
			for _, c := range f.binder.callLog() {
				if len(c) > 256 {
					t.Errorf("a Bind call carried %d bindings; want at most BatchSize", len(c))
				}
			}

			f.binder.mu.Lock()
			for uid, nodes := range f.binder.bound {
				if len(nodes) != 1 {
					t.Errorf("pod %s bound %d times: %v", uid, len(nodes), nodes)
				}
			}
			f.binder.mu.Unlock()

			type usage struct{ milliCPU, memory, pods int64 }
			used := map[string]*usage{}
			bound := 0
			f.mu.Lock()
			for _, p := range f.store {
				if p.Spec.NodeName == "" {
					if c := scheduledCondition(p); c == nil || c.Reason != corev1.PodReasonUnschedulable {
						t.Errorf("pod %s is neither bound nor marked Unschedulable: %+v", p.Name, c)
					}
					continue
				}
				bound++
				u := used[p.Spec.NodeName]
				if u == nil {
					u = &usage{}
					used[p.Spec.NodeName] = u
				}
				req := p.Spec.Containers[0].Resources.Requests
				u.milliCPU += req.Cpu().MilliValue()
				u.memory += req.Memory().Value()
				u.pods++
			}
			f.mu.Unlock()
			if tt.wantBound >= 0 && bound != tt.wantBound {
				t.Errorf("pods bound = %d; want %d", bound, tt.wantBound)
			}
			if tt.wantBound < 0 && (bound < 600 || bound >= numPods) {
				t.Errorf("pods bound = %d; want about two thirds of %d", bound, numPods)
			}
			names := make([]string, 0, len(used))
			for n := range used {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				obj, _, _ := f.nodeStore.GetByKey(name)
				alloc := obj.(*corev1.Node).Status.Allocatable
				u := used[name]
				if u.milliCPU > alloc.Cpu().MilliValue() || u.memory > alloc.Memory().Value() || u.pods > alloc.Pods().Value() {
					t.Errorf("node %s over-committed: cpu %dm of %dm, memory %d of %d, pods %d of %d", name,
						u.milliCPU, alloc.Cpu().MilliValue(), u.memory, alloc.Memory().Value(), u.pods, alloc.Pods().Value())
				}
			}
			if len(used) != numNodes {
				t.Errorf("nodes used = %d; want %d", len(used), numNodes)
			}
		})
	}
}
