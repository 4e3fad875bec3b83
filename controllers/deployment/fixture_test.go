package deployment

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
)

// t0 is the fake clock's starting time in every test.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var (
	deploymentsResource = appsv1.SchemeGroupVersion.WithResource("deployments")
	replicaSetsResource = appsv1.SchemeGroupVersion.WithResource("replicasets")
	podsResource        = corev1.SchemeGroupVersion.WithResource("pods")
)

// fixture wires a Controller to a fake clientset and to informer caches that
// the test seeds directly; the informers never run.
type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	dStore   cache.Indexer
	rsStore  cache.Indexer
	podStore cache.Indexer
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
	requeues map[string]time.Duration
	// rateLimited counts immediate progress-check requeues.
	rateLimited int
	// created numbers the ReplicaSets created through the client, to give
	// them distinct UIDs and increasing creation times.
	created int
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
	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	f.dStore = dInformer.Informer().GetIndexer()
	f.rsStore = rsInformer.Informer().GetIndexer()
	f.podStore = podInformer.Informer().GetIndexer()
	for _, obj := range objs {
		f.cache(obj)
	}
	f.c = NewController(f.client, dInformer, rsInformer, podInformer, f.recorder, WithClock(f.clock))
	t.Cleanup(f.c.queue.ShutDown)
	f.c.enqueueAfter = func(key string, d time.Duration) { f.requeues[key] = d }
	f.c.enqueueRateLimited = func(string) { f.rateLimited++ }
	// The fake clientset assigns neither UIDs nor creation timestamps.
	f.client.PrependReactor("create", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		rs := a.(k8stesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		f.created++
		rs.UID = types.UID(fmt.Sprintf("%s-uid", rs.Name))
		rs.CreationTimestamp = metav1.NewTime(f.clock.Now().Add(time.Duration(f.created) * time.Millisecond))
		return false, nil, nil
	})
	f.client.PrependReactor("update", "*", f.updateWithPreconditions)
	return f
}

// updateWithPreconditions makes updates behave like the apiserver's, which the
// plain fake clientset does not: the resourceVersion must match the stored
// one and is bumped, the status subresource changes only the status, and the
// main resource leaves the status alone.
func (f *fixture) updateWithPreconditions(a k8stesting.Action) (bool, runtime.Object, error) {
	obj := a.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
	m := obj.(metav1.Object)
	stored, err := f.client.Tracker().Get(a.GetResource(), a.GetNamespace(), m.GetName())
	if err != nil {
		return true, nil, err
	}
	sm := stored.(metav1.Object)
	if m.GetResourceVersion() != sm.GetResourceVersion() {
		return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(),
			fmt.Errorf("resourceVersion %s is stale, stored %s", m.GetResourceVersion(), sm.GetResourceVersion()))
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		s := stored.(*appsv1.Deployment)
		if a.GetSubresource() == "status" {
			s.Status, o = o.Status, s
		} else {
			o.Status = s.Status
		}
		obj = o
	case *appsv1.ReplicaSet:
		s := stored.(*appsv1.ReplicaSet)
		if a.GetSubresource() == "status" {
			s.Status, o = o.Status, s
		} else {
			o.Status = s.Status
		}
		obj = o
	}
	rv, _ := strconv.Atoi(sm.GetResourceVersion())
	obj.(metav1.Object).SetResourceVersion(strconv.Itoa(rv + 1))
	if err := f.client.Tracker().Update(a.GetResource(), obj, a.GetNamespace()); err != nil {
		return true, nil, err
	}
	return true, obj.DeepCopyObject(), nil
}

// ctx returns a context whose logger writes through t.
func (f *fixture) ctx() context.Context {
	_, c := ktesting.NewTestContext(f.t)
	return c
}

// cache adds or replaces obj in the matching informer store.
func (f *fixture) cache(obj runtime.Object) {
	f.t.Helper()
	var err error
	switch o := obj.(type) {
	case *appsv1.Deployment:
		err = f.dStore.Update(o)
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
	if err := f.c.Sync(f.ctx(), key); err != nil {
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
		if m, ok := a.GetObject().(metav1.Object); ok {
			name = m.GetName()
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

// deployment reads a Deployment from the clientset's tracker.
func (f *fixture) deployment(name string) *appsv1.Deployment {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(deploymentsResource, "default", name)
	if err != nil {
		f.t.Fatalf("get Deployment %s: %v", name, err)
	}
	return obj.(*appsv1.Deployment)
}

// replicaSets lists the ReplicaSets in the tracker, oldest first.
func (f *fixture) replicaSets() []*appsv1.ReplicaSet {
	f.t.Helper()
	obj, err := f.client.Tracker().List(replicaSetsResource, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "default")
	if err != nil {
		f.t.Fatalf("list ReplicaSets: %v", err)
	}
	var out []*appsv1.ReplicaSet
	for i := range obj.(*appsv1.ReplicaSetList).Items {
		out = append(out, &obj.(*appsv1.ReplicaSetList).Items[i])
	}
	slices.SortFunc(out, func(a, b *appsv1.ReplicaSet) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return out
}

// replicaSet reads one ReplicaSet from the tracker.
func (f *fixture) replicaSet(name string) *appsv1.ReplicaSet {
	f.t.Helper()
	obj, err := f.client.Tracker().Get(replicaSetsResource, "default", name)
	if err != nil {
		f.t.Fatalf("get ReplicaSet %s: %v", name, err)
	}
	return obj.(*appsv1.ReplicaSet)
}

// store writes obj to the tracker and the cache, as an API write observed by
// the informer.
func (f *fixture) store(obj runtime.Object) {
	f.t.Helper()
	var gvr = deploymentsResource
	switch obj.(type) {
	case *appsv1.ReplicaSet:
		gvr = replicaSetsResource
	case *corev1.Pod:
		gvr = podsResource
	}
	if err := f.client.Tracker().Update(gvr, obj, "default"); err != nil {
		f.t.Fatalf("store: %v", err)
	}
	f.cache(obj)
}

// catchUp makes the informer caches reflect the tracker: the Deployment and
// every ReplicaSet, with deleted ReplicaSets removed.
func (f *fixture) catchUp(name string) {
	f.t.Helper()
	f.cache(f.deployment(name))
	live := map[string]bool{}
	for _, rs := range f.replicaSets() {
		live[rs.Name] = true
		f.cache(rs)
	}
	for _, obj := range f.rsStore.List() {
		if rs := obj.(*appsv1.ReplicaSet); !live[rs.Name] {
			if err := f.rsStore.Delete(rs); err != nil {
				f.t.Fatal(err)
			}
		}
	}
}

// settle plays the ReplicaSet controller and the kubelets: every
// ReplicaSet's pods exist at once, and when available is true they are also
// ready and available.
func (f *fixture) settle(available bool) {
	f.t.Helper()
	for _, rs := range f.replicaSets() {
		rs.Status.Replicas = *rs.Spec.Replicas
		rs.Status.FullyLabeledReplicas = *rs.Spec.Replicas
		if available {
			rs.Status.ReadyReplicas = *rs.Spec.Replicas
			rs.Status.AvailableReplicas = *rs.Spec.Replicas
		} else {
			rs.Status.ReadyReplicas = min(rs.Status.ReadyReplicas, *rs.Spec.Replicas)
			rs.Status.AvailableReplicas = min(rs.Status.AvailableReplicas, *rs.Spec.Replicas)
		}
		rs.Status.ObservedGeneration = rs.Generation
		f.store(rs)
	}
}

// deploymentOption adjusts a test Deployment.
type deploymentOption func(*appsv1.Deployment)

// newDeployment returns a RollingUpdate Deployment of replicas pods selecting
// app=<name>, at generation 1, with the API defaults filled in.
func newDeployment(name string, replicas int32, opts ...deploymentOption) *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			Generation: 1, ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-24 * time.Hour)),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "nginx:1.0", ImagePullPolicy: corev1.PullIfNotPresent,
					TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

func withImage(image string) deploymentOption {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

func withRolling(surge, unavailable intstr.IntOrString) deploymentOption {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}
	}
}

func recreate() deploymentOption {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
}

func paused() deploymentOption { return func(d *appsv1.Deployment) { d.Spec.Paused = true } }

func withAnnotation(k, v string) deploymentOption {
	return func(d *appsv1.Deployment) {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[k] = v
	}
}

// rsFor returns the ReplicaSet the controller would create for d's current
// template, with the given size, revision and age, fully available.
func rsFor(d *appsv1.Deployment, replicas int32, revision string, age time.Duration) *appsv1.ReplicaSet {
	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	template.Labels = cloneAndAddLabel(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	name := d.Name + "-" + hash
	return &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: d.Namespace, UID: types.UID(name + "-uid"), ResourceVersion: "1",
			CreationTimestamp: metav1.NewTime(t0.Add(-age)),
			Labels:            template.Labels,
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
			Annotations: map[string]string{
				RevisionAnnotation:        revision,
				DesiredReplicasAnnotation: fmt.Sprint(*d.Spec.Replicas),
				MaxReplicasAnnotation:     fmt.Sprint(*d.Spec.Replicas + maxSurge(d)),
			},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: cloneSelectorAndAddLabel(d.Spec.Selector, appsv1.DefaultDeploymentUniqueLabelKey, hash),
			Template: *template,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, FullyLabeledReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
}

// sizes returns "name=replicas" for every ReplicaSet in the tracker, oldest first.
func (f *fixture) sizes() []string {
	var out []string
	for _, rs := range f.replicaSets() {
		out = append(out, fmt.Sprintf("%s=%d", rs.Name, *rs.Spec.Replicas))
	}
	return out
}
