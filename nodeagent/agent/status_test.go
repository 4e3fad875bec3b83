package agent

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeNodeAPI answers the reporter's writes of Nodes with increasing resourceVersions, and
// counts them; fail makes every write fail.
type fakeNodeAPI struct {
	mu     sync.Mutex
	rv     int
	writes []string // verbs, in order
	fail   bool
}

func (f *fakeNodeAPI) client() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("*", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fail {
			return true, nil, errors.New("the API is down")
		}
		f.rv++
		f.writes = append(f.writes, action.GetVerb())
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", ResourceVersion: strconv.Itoa(f.rv)}}
		if c, ok := action.(k8stesting.CreateAction); ok {
			node = c.GetObject().(*corev1.Node).DeepCopy()
			node.ResourceVersion = strconv.Itoa(f.rv)
		}
		return true, node, nil
	})
	return cs
}

func (f *fakeNodeAPI) state() (writes int, rv int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes), f.rv
}

func (f *fakeNodeAPI) setFail(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

// observed returns a Node as a watch shows it: Ready condition status with the reason the
// writer gave, at resourceVersion rv.
func observed(rv int, status corev1.ConditionStatus, reason string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", ResourceVersion: strconv.Itoa(rv)}}
	if status != "" {
		msg := ""
		if reason == reasonReady {
			msg = "kubelet is posting ready status"
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, Message: msg}}
	}
	return n
}

// step is one thing that happens to a registered reporter: the clock moves by advance, then
// either the watch shows a Node (observe) or the status loop wakes up (sync with ready).
type step struct {
	advance time.Duration
	// observe, when set, is the Node the watch shows (its resourceVersion relative to the
	// last write: 0 is the echo of the last write, +1 a later change, -1 an older event).
	observe   func(lastRV int) *corev1.Node
	wantKick  bool
	ready     readiness
	fail      bool
	wantWhy   string // "" when nothing must be written
	wantError bool
}

// TestStatusReportPolicy drives a registered reporter with a fake clock and checks which
// wake-ups write the status, and why: at registration, on a readiness change, when the stored
// Ready condition was overwritten, and otherwise once every report interval.
func TestStatusReportPolicy(t *testing.T) {
	const every = time.Minute
	ready := readiness{Ready: true}
	notReady := readiness{Message: "container runtime is down"}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "idle node writes once per interval", steps: []step{
			{advance: 10 * time.Second, ready: ready},
			{advance: 49 * time.Second, ready: ready},
			{advance: time.Second, ready: ready, wantWhy: duePeriodic},
			{advance: 10 * time.Second, ready: ready},
			{advance: 50 * time.Second, ready: ready, wantWhy: duePeriodic},
		}},
		{name: "readiness change is written at once", steps: []step{
			{advance: 10 * time.Second, ready: notReady, wantWhy: dueChanged},
			{advance: 10 * time.Second, ready: notReady},
			{advance: 10 * time.Second, ready: readiness{Message: "another reason"}, wantWhy: dueChanged},
			{advance: 10 * time.Second, ready: ready, wantWhy: dueChanged},
			{advance: 59 * time.Second, ready: ready},
		}},
		{name: "Ready condition overwritten by the node lifecycle controller is restored", steps: []step{
			{advance: 10 * time.Second, observe: func(rv int) *corev1.Node { return observed(rv+1, corev1.ConditionUnknown, "NodeStatusUnknown") }, wantKick: true},
			{ready: ready, wantWhy: dueOverwritten},
			{observe: func(rv int) *corev1.Node { return observed(rv, corev1.ConditionTrue, reasonReady) }},
			{advance: time.Second, ready: ready},
		}},
		{name: "echo of the agent's own write needs nothing", steps: []step{
			{observe: func(rv int) *corev1.Node { return observed(rv, corev1.ConditionTrue, reasonReady) }},
			{advance: time.Second, ready: ready},
		}},
		{name: "event older than the last write is ignored", steps: []step{
			{advance: time.Minute, ready: ready, wantWhy: duePeriodic},
			{observe: func(rv int) *corev1.Node { return observed(rv-1, corev1.ConditionFalse, reasonNotReady) }},
			{advance: time.Second, ready: ready},
		}},
		{name: "later change that agrees needs nothing", steps: []step{
			{observe: func(rv int) *corev1.Node { return observed(rv+5, corev1.ConditionTrue, reasonReady) }},
			{advance: time.Second, ready: ready},
		}},
		{name: "Ready condition removed is written again", steps: []step{
			{observe: func(rv int) *corev1.Node { return observed(rv+1, "", "") }, wantKick: true},
			{ready: ready, wantWhy: dueOverwritten},
		}},
		{name: "failed write is retried on the next wake-up", steps: []step{
			{advance: time.Minute, ready: ready, fail: true, wantWhy: duePeriodic, wantError: true},
			{advance: 10 * time.Second, ready: ready, wantWhy: duePeriodic},
			{advance: 59 * time.Second, ready: ready},
		}},
		{name: "overwritten while the agent wrote is still restored", steps: []step{
			// The watch shows a change made after the agent's next write; it is written
			// again although the write in between cleared nothing newer.
			{observe: func(rv int) *corev1.Node { return observed(rv+2, corev1.ConditionUnknown, "NodeStatusUnknown") }, wantKick: true},
			{ready: notReady, wantWhy: dueChanged},
			{ready: notReady, wantWhy: dueOverwritten},
			{ready: notReady},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			api := &fakeNodeAPI{}
			rep := &reporter{client: api.client(), now: clock.now, every: every, spec: testSpec()}
			if _, err := rep.register(context.Background(), readiness{Ready: true}); err != nil {
				t.Fatalf("register() = %v", err)
			}
			if writes, _ := api.state(); writes != 1 {
				t.Fatalf("register() made %d writes; want 1 (the create, status included)", writes)
			}
			for i, s := range tt.steps {
				clock.t = clock.t.Add(s.advance)
				before, rv := api.state()
				if s.observe != nil {
					if got := rep.observe(s.observe(rv)); got != s.wantKick {
						t.Fatalf("step %d: observe() = %t; want %t", i, got, s.wantKick)
					}
					continue
				}
				api.setFail(s.fail)
				why, err := rep.sync(context.Background(), s.ready)
				api.setFail(false)
				if (err != nil) != s.wantError {
					t.Fatalf("step %d: sync() error = %v; want error %t", i, err, s.wantError)
				}
				if why != s.wantWhy {
					t.Fatalf("step %d at +%s: sync() wrote because %q; want %q", i, clock.now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), why, s.wantWhy)
				}
				after, _ := api.state()
				wantWrites := 0
				if s.wantWhy != "" && !s.wantError {
					wantWrites = 1
				}
				if after-before != wantWrites {
					t.Fatalf("step %d: sync() made %d writes; want %d", i, after-before, wantWrites)
				}
			}
		})
	}
}

// TestStatusReportRate checks the budget of idle hollow nodes: with the default hollow report
// interval, 1,000 staggered idle nodes write at most 1 status per second per 100 nodes.
func TestStatusReportRate(t *testing.T) {
	const nodes = 1000
	every := DefaultHollowStatusReportInterval
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start}
	reps := make([]*reporter, nodes)
	for i := range reps {
		reps[i] = &reporter{now: clock.now, every: every, spec: testSpec()}
		reps[i].reportedAt(start, conditions(start, readiness{Ready: true}, nil), "1")
		reps[i].stagger(time.Duration(int64(every) * int64(i) / nodes))
	}
	// Count, second by second over two intervals, the nodes whose report falls due.
	maxPerSecond, total := 0, 0
	for sec := 1; sec <= int(2*every/time.Second); sec++ {
		clock.t = clock.t.Add(time.Second)
		n := 0
		for _, r := range reps {
			if r.due(clock.now(), readiness{Ready: true}) != "" {
				n++
				r.reportedAt(clock.now(), r.prev, "")
			}
		}
		maxPerSecond, total = max(maxPerSecond, n), total+n
	}
	if limit := nodes / 100; maxPerSecond > limit {
		t.Errorf("%d idle nodes wrote up to %d statuses in one second; want at most %d", nodes, maxPerSecond, limit)
	}
	if want := 2 * nodes; total != want {
		t.Errorf("%d idle nodes wrote %d statuses in two intervals; want %d (one each per interval)", nodes, total, want)
	}
}

// TestRegisterExistingNode checks that registering over an existing Node (an agent restart)
// keeps it and rewrites the agent's status and conditions.
func TestRegisterExistingNode(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := buildNode(testSpec())
	old.Status.Conditions = conditions(t0, readiness{}, nil)
	old.Status.Capacity = nil
	cs := fake.NewClientset(old)
	clock := &fakeClock{t: t0.Add(time.Hour)}
	rep := &reporter{client: cs, now: clock.now, every: time.Minute, spec: testSpec()}
	node, err := rep.register(context.Background(), readiness{Ready: true})
	if err != nil {
		t.Fatalf("register() = %v", err)
	}
	c, _ := readyCondition(node.Status.Conditions)
	if c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(clock.now()) {
		t.Errorf("Ready = %s since %v; want True since %v", c.Status, c.LastTransitionTime, clock.now())
	}
	if node.Status.Capacity.Pods().Value() != 110 {
		t.Errorf("capacity = %v; want the agent's", node.Status.Capacity)
	}
	if why := rep.due(clock.now().Add(time.Second), readiness{Ready: true}); why != "" {
		t.Errorf("due() right after registering = %q; want nothing due", why)
	}
}
