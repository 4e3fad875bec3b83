package daemonset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/controllers/internal/history"
)

// t0 is the fake clock's starting time in every test.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// fixture wires a Controller to a fake clientset and to informer caches that
// the test seeds directly; the informers never run.
type fixture struct {
	t            *testing.T
	client       *fake.Clientset
	dsStore      cache.Indexer
	historyStore cache.Indexer
	podStore     cache.Indexer
	nodeStore    cache.Indexer
	clock        *testingclock.FakeClock
	recorder     *record.FakeRecorder
	c            *Controller
	requeues     map[string]time.Duration
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{
		t:        t,
		client:   fake.NewClientset(objs...),
		clock:    testingclock.NewFakeClock(t0),
		recorder: record.NewFakeRecorder(1000),
		requeues: map[string]time.Duration{},
	}
	factory := informers.NewSharedInformerFactory(f.client, 0)
	dsInformer := factory.Apps().V1().DaemonSets()
	historyInformer := factory.Apps().V1().ControllerRevisions()
	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	f.dsStore = dsInformer.Informer().GetIndexer()
	f.historyStore = historyInformer.Informer().GetIndexer()
	f.podStore = podInformer.Informer().GetIndexer()
	f.nodeStore = nodeInformer.Informer().GetIndexer()
	for _, obj := range objs {
		f.cache(obj)
	}
	f.c = NewController(f.client, dsInformer, historyInformer, podInformer, nodeInformer, f.recorder, WithClock(f.clock))
	t.Cleanup(f.c.queue.ShutDown)
	f.c.enqueueAfter = func(key string, d time.Duration) { f.requeues[key] = d }
	generateNames(f.client)
	return f
}

// generateNames makes client's pod creations honour generateName and assign
// a UID and creation time, which the fake clientset does not do.
func generateNames(client *fake.Clientset) {
	var n atomic.Int64
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			i := n.Add(1)
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, i)
			pod.UID = types.UID(fmt.Sprintf("created-%d", i))
			pod.CreationTimestamp = metav1.NewTime(t0)
		}
		return false, nil, nil
	})
}

// ctx returns a context whose logger writes through t.
func ctx(t *testing.T) context.Context {
	_, c := ktesting.NewTestContext(t)
	return c
}

// cache adds or replaces obj in the matching informer store.
func (f *fixture) cache(obj runtime.Object) {
	f.t.Helper()
	var err error
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		err = f.dsStore.Update(o)
	case *appsv1.ControllerRevision:
		err = f.historyStore.Update(o)
	case *corev1.Pod:
		err = f.podStore.Update(o)
	case *corev1.Node:
		err = f.nodeStore.Update(o)
	default:
		f.t.Fatalf("cache(%T): unsupported type", obj)
	}
	if err != nil {
		f.t.Fatalf("cache: %v", err)
	}
}

// sync runs Sync for key and fails the test on error.
func (f *fixture) sync(key string) {
	f.t.Helper()
	if err := f.c.Sync(ctx(f.t), key); err != nil {
		f.t.Fatalf("Sync(%q) = %v; want nil", key, err)
	}
}

// observe copies every pod and revision of the fake clientset into the
// informer caches and tells the controller's handlers about new pods and
// deleted pods, as the informers would.
func (f *fixture) observe() {
	f.t.Helper()
	stored := map[string]bool{}
	for _, p := range f.storedPods() {
		stored[podKey(p)] = true
		if _, exists, _ := f.podStore.Get(p); !exists {
			f.cache(p)
			f.c.addPod(p)
		} else {
			f.cache(p)
		}
	}
	for _, obj := range f.podStore.List() {
		p := obj.(*corev1.Pod)
		if !stored[podKey(p)] {
			if err := f.podStore.Delete(p); err != nil {
				f.t.Fatal(err)
			}
			f.c.deletePod(p)
		}
	}
	for _, r := range f.storedRevisions() {
		f.cache(r)
	}
}

// actions returns the recorded client actions as short strings and clears them.
func (f *fixture) actions() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		out = append(out, actionString(a))
	}
	f.client.ClearActions()
	return out
}

// podActions returns the recorded pod creations ("create <node>") and
// deletions ("delete <pod>"), sorted, without clearing them.
func (f *fixture) podActions() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource != "pods" {
			continue
		}
		switch a := a.(type) {
		case k8stesting.CreateAction:
			out = append(out, "create "+targetNode(a.GetObject().(*corev1.Pod)))
		case k8stesting.DeleteAction:
			out = append(out, "delete "+a.GetName())
		}
	}
	slices.Sort(out)
	return out
}

// actionString renders a as "verb resource[/subresource] [name]".
func actionString(a k8stesting.Action) string {
	res := a.GetResource().Resource
	if sub := a.GetSubresource(); sub != "" {
		res += "/" + sub
	}
	var name string
	switch a := a.(type) {
	case k8stesting.CreateAction:
		if m, ok := a.GetObject().(metav1.Object); ok {
			name = m.GetName()
			if name == "" {
				name = m.GetGenerateName() + "*"
			}
		}
	case k8stesting.UpdateAction:
		if m, ok := a.GetObject().(metav1.Object); ok {
			name = m.GetName()
		}
	case k8stesting.GetAction:
		name = a.GetName()
	case k8stesting.DeleteAction:
		name = a.GetName()
	case k8stesting.PatchAction:
		name = a.GetName()
	}
	if name == "" {
		return a.GetVerb() + " " + res
	}
	return a.GetVerb() + " " + res + " " + name
}

// events drains the recorded events.
func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// eventReasons drains the recorded events and returns "type reason" of each.
func (f *fixture) eventReasons() []string {
	var out []string
	for _, e := range f.events() {
		fields := strings.Fields(e)
		out = append(out, fields[0]+" "+fields[1])
	}
	slices.Sort(out)
	return out
}

// storedDS reads a DaemonSet from the fake clientset's tracker.
func (f *fixture) storedDS(name string) *appsv1.DaemonSet {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("daemonsets"), "default", name)
	if err != nil {
		f.t.Fatalf("get DaemonSet %s: %v", name, err)
	}
	return obj.(*appsv1.DaemonSet)
}

// storedPods lists the pods in the fake clientset's tracker, sorted by name.
func (f *fixture) storedPods() []*corev1.Pod {
	f.t.Helper()
	obj, err := f.client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), "default")
	if err != nil {
		f.t.Fatalf("list pods: %v", err)
	}
	var out []*corev1.Pod
	for i := range obj.(*corev1.PodList).Items {
		out = append(out, &obj.(*corev1.PodList).Items[i])
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// storedRevisions lists the revisions in the tracker, sorted by revision.
func (f *fixture) storedRevisions() []*appsv1.ControllerRevision {
	f.t.Helper()
	obj, err := f.client.Tracker().List(appsv1.SchemeGroupVersion.WithResource("controllerrevisions"), appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), "default")
	if err != nil {
		f.t.Fatalf("list revisions: %v", err)
	}
	var out []*appsv1.ControllerRevision
	for i := range obj.(*appsv1.ControllerRevisionList).Items {
		out = append(out, &obj.(*appsv1.ControllerRevisionList).Items[i])
	}
	history.SortByRevision(out)
	return out
}

// newDS returns a RollingUpdate DaemonSet "agent" selecting app=agent,
// generation 1, with the API server's defaults.
func newDS() *appsv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	return &appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "agent", Namespace: "default", UID: "agent-uid",
			Generation: 1, ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{
					MaxUnavailable: ptr.To(intstr.FromInt32(1)),
					MaxSurge:       ptr.To(intstr.FromInt32(0)),
				},
			},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
}

// dsOption adjusts a test DaemonSet.
type dsOption func(*appsv1.DaemonSet)

func withDS(opts ...dsOption) *appsv1.DaemonSet {
	ds := newDS()
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func image(img string) dsOption {
	return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = img }
}

func rolling(maxUnavailable, maxSurge intstr.IntOrString) dsOption {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge}
	}
}

func onDelete() dsOption {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	}
}

// hashOf returns the revision hash of ds's template.
func hashOf(ds *appsv1.DaemonSet) string {
	return history.HashTemplate(&ds.Spec.Template, ds.Status.CollisionCount)
}

// newNode returns a node with the given labels.
func newNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
}

// nodes returns n unlabelled nodes named node-1 ... node-n.
func nodes(n int) []runtime.Object {
	var out []runtime.Object
	for i := 1; i <= n; i++ {
		out = append(out, newNode(fmt.Sprintf("node-%d", i), nil))
	}
	return out
}

// podOption adjusts a test pod.
type podOption func(*corev1.Pod)

// newPod returns a running, ready (since an hour) pod of ds bound to node,
// labelled with the hash of ds's template.
func newPod(name, node string, ds *appsv1.DaemonSet, opts ...podOption) *corev1.Pod {
	pod := podForNode(ds, node, hashOf(ds))
	pod.GenerateName = ""
	pod.Name = name
	pod.UID = types.UID(name + "-uid")
	pod.ResourceVersion = "7"
	pod.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	pod.Spec.NodeName = node
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour)),
		}},
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func inPhase(ph corev1.PodPhase) podOption { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func notReady() podOption {
	return func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
}

func readyAt(t time.Time) podOption {
	return func(p *corev1.Pod) { p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(t) }
}

func createdAt(t time.Time) podOption {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}

func unbound() podOption { return func(p *corev1.Pod) { p.Spec.NodeName = "" } }

func terminating() podOption {
	return func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }
}

// objects joins runtime objects and slices of them into one slice.
func objects(parts ...any) []runtime.Object {
	var out []runtime.Object
	for _, p := range parts {
		switch v := p.(type) {
		case runtime.Object:
			out = append(out, v)
		case []runtime.Object:
			out = append(out, v...)
		}
	}
	return out
}
