package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/capstan-io/capstan/controllers/scheduler/placement"
)

// t0 is the fake clock's starting time in every test.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var podsResource = schema.GroupResource{Resource: "pods"}

// fixture wires a Scheduler to a fake store of pods, a fake Binder and a fake clientset
// whose pod status writes go to that store, and to informer caches the test seeds directly
// (the informers never run). Writes reach the caches, and the scheduler's handlers, only
// when the test calls deliver, as a lagging watch would.
type fixture struct {
	t         *testing.T
	client    *fake.Clientset
	podStore  cache.Indexer
	nodeStore cache.Indexer
	clock     *testingclock.FakeClock
	recorder  *eventLog
	binder    *fakeBinder
	s         *Scheduler

	mu sync.Mutex // protects store and rv
	// store is the truth: the pods as the API holds them, by key.
	store map[string]*corev1.Pod
	rv    int
}

// newFixture returns a fixture whose caches and store hold objs.
func newFixture(t *testing.T, opts Options, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{
		t:        t,
		client:   fake.NewClientset(),
		clock:    testingclock.NewFakeClock(t0),
		recorder: &eventLog{},
		store:    map[string]*corev1.Pod{},
	}
	f.binder = &fakeBinder{f: f}
	f.client.PrependReactor("update", "pods", f.updateStatusReactor)
	factory := informers.NewSharedInformerFactory(f.client, 0)
	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	f.podStore = podInformer.Informer().GetIndexer()
	f.nodeStore = nodeInformer.Informer().GetIndexer()
	opts.Clock = f.clock
	f.s = NewScheduler(f.client, f.binder, podInformer, nodeInformer, f.recorder, opts)
	for _, obj := range objs {
		switch o := obj.(type) {
		case *corev1.Node:
			f.addNode(o)
		case *corev1.Pod:
			f.addPod(o)
		default:
			t.Fatalf("newFixture: unsupported object %T", obj)
		}
	}
	return f
}

// nextRV returns a new resourceVersion. The caller holds f.mu.
func (f *fixture) nextRV() string {
	f.rv++
	return strconv.Itoa(f.rv)
}

// addNode adds node to the cache and tells the scheduler.
func (f *fixture) addNode(node *corev1.Node) {
	f.t.Helper()
	if err := f.nodeStore.Add(node); err != nil {
		f.t.Fatal(err)
	}
	f.s.addNode(node)
}

// updateNode replaces node in the cache and tells the scheduler.
func (f *fixture) updateNode(node *corev1.Node) {
	f.t.Helper()
	old, _, _ := f.nodeStore.Get(node)
	if err := f.nodeStore.Update(node); err != nil {
		f.t.Fatal(err)
	}
	f.s.updateNode(old, node)
}

// addPod creates pod in the store and delivers it to the cache.
func (f *fixture) addPod(pod *corev1.Pod) {
	f.t.Helper()
	pod = pod.DeepCopy()
	f.mu.Lock()
	pod.ResourceVersion = f.nextRV()
	f.store[key(pod)] = pod
	f.mu.Unlock()
	if err := f.podStore.Add(pod); err != nil {
		f.t.Fatal(err)
	}
	f.s.addPod(pod)
}

// updatePod writes pod to the store (as an update through the API would) and delivers it.
func (f *fixture) updatePod(pod *corev1.Pod) {
	f.t.Helper()
	pod = pod.DeepCopy()
	f.mu.Lock()
	pod.ResourceVersion = f.nextRV()
	f.store[key(pod)] = pod
	f.mu.Unlock()
	f.deliver()
}

// deletePod deletes the pod called name from the store and delivers the deletion.
func (f *fixture) deletePod(name string) {
	f.t.Helper()
	f.mu.Lock()
	delete(f.store, "default/"+name)
	f.mu.Unlock()
	f.deliver()
}

// deliver brings the pod cache up to date with the store, calling the scheduler's handlers
// as the informer would.
func (f *fixture) deliver() {
	f.t.Helper()
	f.mu.Lock()
	store := make(map[string]*corev1.Pod, len(f.store))
	for k, p := range f.store {
		store[k] = p
	}
	f.mu.Unlock()
	keys := make([]string, 0, len(store))
	for k := range store {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pod := store[k]
		obj, ok, _ := f.podStore.GetByKey(k)
		switch {
		case !ok:
			f.must(f.podStore.Add(pod))
			f.s.addPod(pod)
		case obj.(*corev1.Pod).ResourceVersion != pod.ResourceVersion:
			f.must(f.podStore.Update(pod))
			f.s.updatePod(obj, pod)
		}
	}
	for _, obj := range f.podStore.List() {
		if _, ok := store[key(obj.(*corev1.Pod))]; !ok {
			f.must(f.podStore.Delete(obj))
			f.s.deletePod(obj)
		}
	}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// updateStatusReactor applies pod status updates to the store, with the resourceVersion
// precondition the API enforces.
func (f *fixture) updateStatusReactor(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "status" {
		return false, nil, nil
	}
	pod := a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod).DeepCopy()
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.store[key(pod)]
	if !ok {
		return true, nil, apierrors.NewNotFound(podsResource, pod.Name)
	}
	if cur.ResourceVersion != pod.ResourceVersion {
		return true, nil, apierrors.NewConflict(podsResource, pod.Name, fmt.Errorf("resourceVersion %s is not %s", pod.ResourceVersion, cur.ResourceVersion))
	}
	updated := cur.DeepCopy()
	updated.Status = pod.Status
	updated.ResourceVersion = f.nextRV()
	f.store[key(pod)] = updated
	return true, updated.DeepCopy(), nil
}

// stored returns the pod called name as the store holds it.
func (f *fixture) stored(name string) *corev1.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store["default/"+name]
}

// schedule runs one pass and fails the test on error.
func (f *fixture) schedule() int {
	f.t.Helper()
	n, err := f.s.ScheduleOnce(testContext(f.t))
	if err != nil {
		f.t.Fatalf("ScheduleOnce() = %d, %v; want no error", n, err)
	}
	return n
}

// statusWrites returns the names of the pods whose status was written, and clears them.
func (f *fixture) statusWrites() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" {
			out = append(out, u.GetObject().(*corev1.Pod).Name)
		}
	}
	f.client.ClearActions()
	return out
}

// testContext returns a context cancelled when the test ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// key returns pod's "namespace/name".
func key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// fakeBinder binds pods in the fixture's store, with the API's preconditions: the pod
// exists with the binding's resourceVersion and is not bound yet. Fail, when set, can fail
// a binding first. It counts every binding it applied per pod UID.
type fakeBinder struct {
	f *fixture
	// fail, when it returns an error, fails the binding with it.
	fail func(b Binding) error

	mu    sync.Mutex // protects calls and bound
	calls [][]string
	bound map[types.UID][]string
}

var _ Binder = (*fakeBinder)(nil)

// Bind implements Binder.
func (b *fakeBinder) Bind(_ context.Context, bindings []Binding) []error {
	errs := make([]error, len(bindings))
	var call []string
	for i, bd := range bindings {
		call = append(call, bd.Pod.Name+"->"+bd.Node)
		if b.fail != nil {
			if err := b.fail(bd); err != nil {
				errs[i] = err
				continue
			}
		}
		errs[i] = b.apply(bd)
	}
	b.mu.Lock()
	b.calls = append(b.calls, call)
	b.mu.Unlock()
	return errs
}

// apply binds one pod in the store.
func (b *fakeBinder) apply(bd Binding) error {
	f := b.f
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.store[key(bd.Pod)]
	if !ok || cur.UID != bd.Pod.UID {
		return apierrors.NewNotFound(podsResource, bd.Pod.Name)
	}
	if cur.ResourceVersion != bd.Pod.ResourceVersion || cur.Spec.NodeName != "" {
		return apierrors.NewConflict(podsResource, bd.Pod.Name, fmt.Errorf("pod changed"))
	}
	updated := cur.DeepCopy()
	updated.Spec.NodeName = bd.Node
	updated.ResourceVersion = f.nextRV()
	f.store[key(updated)] = updated
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bound == nil {
		b.bound = map[types.UID][]string{}
	}
	b.bound[bd.Pod.UID] = append(b.bound[bd.Pod.UID], bd.Node)
	return nil
}

// callLog returns the bindings of every call, and clears them.
func (b *fakeBinder) callLog() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.calls
	b.calls = nil
	return out
}

// eventLog is an EventRecorder that keeps "Type Reason Message" lines.
type eventLog struct {
	mu     sync.Mutex // protects events
	events []string
}

var _ record.EventRecorder = (*eventLog)(nil)

// Event implements record.EventRecorder.
func (l *eventLog) Event(_ runtime.Object, eventtype, reason, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, eventtype+" "+reason+" "+message)
}

// Eventf implements record.EventRecorder.
func (l *eventLog) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	l.Event(obj, eventtype, reason, fmt.Sprintf(format, args...))
}

// AnnotatedEventf implements record.EventRecorder.
func (l *eventLog) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventtype, reason, format string, args ...any) {
	l.Eventf(obj, eventtype, reason, format, args...)
}

// take returns the recorded events, and clears them.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// makeNode returns a Ready node with the given allocatable cpu, memory and pods.
func makeNode(name, cpu, memory string, pods int64) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse(memory),
				corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

// makePod returns a pending pod created at t0 plus age seconds, requesting cpu and memory
// ("" for none), owned by the ReplicaSet with UID owner when owner is set.
func makePod(name string, age int, cpu, memory, owner string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         "default",
			Name:              name,
			UID:               types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second)),
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
	req := corev1.ResourceList{}
	if cpu != "" {
		req[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		req[corev1.ResourceMemory] = resource.MustParse(memory)
	}
	if len(req) > 0 {
		p.Spec.Containers[0].Resources.Requests = req
	}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: types.UID(owner), Controller: &yes}}
	}
	return p
}

// scheduledCondition returns pod's PodScheduled condition, or nil.
func scheduledCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// snapshotInfo builds a pass's snapshot, as a pass would, and returns the NodeInfo of the
// node called name.
func (f *fixture) snapshotInfo(name string) *placement.NodeInfo {
	f.t.Helper()
	snap, err := f.s.snapshot()
	if err != nil {
		f.t.Fatal(err)
	}
	info, ok := snap.byName[name]
	if !ok {
		f.t.Fatalf("snapshot has no node %s", name)
	}
	return info
}

// makeBoundPod returns makePod's pod (created at t0) bound to node.
func makeBoundPod(name, node, cpu, owner string) *corev1.Pod {
	p := makePod(name, 0, cpu, "", owner)
	p.Spec.NodeName = node
	return p
}

// editStored returns a change that updates the stored pod called name with edit.
func editStored(name string, edit func(*corev1.Pod)) func(*fixture) {
	return func(f *fixture) {
		p := f.stored(name).DeepCopy()
		edit(p)
		f.updatePod(p)
	}
}
