package replicaset

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// t0 is the fake clock's starting time in every test.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// fixture wires a Controller to a fake clientset and to informer caches that
// the test seeds directly; the informers never run.
type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	rsStore  cache.Indexer
	podStore cache.Indexer
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
	requeues map[string]time.Duration
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
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	f.rsStore = rsInformer.Informer().GetIndexer()
	f.podStore = podInformer.Informer().GetIndexer()
	for _, obj := range objs {
		f.cache(obj)
	}
	f.c = NewController(f.client, rsInformer, podInformer, f.recorder, WithClock(f.clock))
	t.Cleanup(f.c.queue.ShutDown)
	f.c.enqueueAfter = func(key string, d time.Duration) { f.requeues[key] = d }
	generateNames(f.client)
	return f
}

// generateNames makes client's pod creations honour generateName and assign
// a UID, which the fake clientset does not do.
func generateNames(client *fake.Clientset) {
	var n atomic.Int64
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			i := n.Add(1)
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, i)
			pod.UID = types.UID(fmt.Sprintf("created-%d", i))
		}
		return false, nil, nil
	})
}

// cache adds or replaces obj in the matching informer store.
func (f *fixture) cache(obj runtime.Object) {
	f.t.Helper()
	var err error
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		err = f.rsStore.Update(o)
	case *corev1.Pod:
		err = f.podStore.Update(o)
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

// actions returns the recorded client actions as short strings and clears them.
func (f *fixture) actions() []string {
	var out []string
	for _, a := range f.client.Actions() {
		out = append(out, actionString(a))
	}
	f.client.ClearActions()
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
		if m, err := metaOf(a.GetObject()); err == nil {
			name = m.GetName()
			if name == "" {
				name = m.GetGenerateName() + "*"
			}
		}
	case k8stesting.UpdateAction:
		if m, err := metaOf(a.GetObject()); err == nil {
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

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
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

// createAttempts counts the pod creations the controller requested.
func (f *fixture) createAttempts() int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			n++
		}
	}
	return n
}

// storedRS reads a ReplicaSet from the fake clientset's tracker.
func (f *fixture) storedRS(namespace, name string) *appsv1.ReplicaSet {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("replicasets"), namespace, name)
	if err != nil {
		f.t.Fatalf("get ReplicaSet %s/%s: %v", namespace, name, err)
	}
	return obj.(*appsv1.ReplicaSet)
}

// storedPods lists the pods in the fake clientset's tracker, sorted by name.
func (f *fixture) storedPods(namespace string) []*corev1.Pod {
	f.t.Helper()
	obj, err := f.client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), namespace)
	if err != nil {
		f.t.Fatalf("list pods: %v", err)
	}
	var out []*corev1.Pod
	for i := range obj.(*corev1.PodList).Items {
		out = append(out, &obj.(*corev1.PodList).Items[i])
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// newRS returns a ReplicaSet selecting app=<name>, generation 1.
func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			Generation: 1, ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}, Annotations: map[string]string{"note": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}},
			},
		},
	}
}

// podOption adjusts a test pod.
type podOption func(*corev1.Pod)

// newPod returns a running, scheduled, ready pod controlled by rs (an orphan
// when rs is nil) labelled app=<app>, created at created.
func newPod(name, app string, rs *appsv1.ReplicaSet, opts ...podOption) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID(name + "-uid"), ResourceVersion: "7",
			Labels:            map[string]string{"app": app, "tier": "web"},
			CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Spec: corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{
				Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour)),
			}},
		},
	}
	if rs != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)}
	}
	for _, o := range opts {
		o(pod)
	}
	return pod
}

func onNode(n string) podOption { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

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

func restarts(n int32) podOption {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

func deletionCostOf(v string) podOption {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{DeletionCostAnnotation: v} }
}

func terminating() podOption {
	return func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) }
}

func withLabels(l map[string]string) podOption { return func(p *corev1.Pod) { p.Labels = l } }

// slicesSort sorts s in place.
func slicesSort(s []string) { slices.Sort(s) }
