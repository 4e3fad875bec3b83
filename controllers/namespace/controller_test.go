package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	namespacesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

	testResources = []Resource{
		{GVR: namespacesGVR, Kind: "Namespace"},
		{GVR: podsGVR, Kind: "Pod", Namespaced: true},
		{GVR: configMapsGVR, Kind: "ConfigMap", Namespaced: true},
		{GVR: deploymentsGVR, Kind: "Deployment", Namespaced: true},
	}
	kindOf = map[schema.GroupVersionResource]string{podsGVR: "Pod", configMapsGVR: "ConfigMap", deploymentsGVR: "Deployment"}

	start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// fakeListKind is the list kind the fake metadata client registers.
	fakeListKind = schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}
)

// fakeInformers hands out never-started informers whose indexers tests seed.
type fakeInformers map[schema.GroupResource]cache.SharedIndexInformer

func (f fakeInformers) Informer(gr schema.GroupResource) cache.SharedIndexInformer {
	if inf, ok := f[gr]; ok {
		return inf
	}
	lw := &cache.ListWatch{
		ListFunc:  func(metav1.ListOptions) (runtime.Object, error) { return &metav1.List{}, nil },
		WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	inf := cache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	f[gr] = inf
	return inf
}

var _ Informers = fakeInformers(nil)

// fixture is a controller over a fake clientset, a fake metadata client and
// seeded informers.
type fixture struct {
	c         *Controller
	kube      *fake.Clientset
	md        *metadatafake.FakeMetadataClient
	informers fakeInformers
	nsIndexer cache.Indexer
}

// object is one namespaced object present both in the store (the metadata
// client) and, unless stale, in the informer.
type object struct {
	gvr        schema.GroupVersionResource
	name       string
	finalizers []string
	deleting   bool
	// notCached leaves the object out of the informer (a lagging cache).
	notCached bool
}

func (o object) meta(ns string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: ns, Name: o.name, UID: types.UID("uid-" + o.name), Finalizers: o.finalizers}
	if o.deleting {
		ts := metav1.NewTime(start)
		m.DeletionTimestamp = &ts
	}
	return m
}

// typed returns the object as the informer holds it.
func (o object) typed(ns string) runtime.Object {
	switch o.gvr {
	case podsGVR:
		return &corev1.Pod{ObjectMeta: o.meta(ns)}
	case configMapsGVR:
		return &corev1.ConfigMap{ObjectMeta: o.meta(ns)}
	default:
		return &appsv1.Deployment{ObjectMeta: o.meta(ns)}
	}
}

// partial returns the object as the metadata client holds it.
func (o object) partial(ns string) *metav1.PartialObjectMetadata {
	gv := o.gvr.GroupVersion()
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: gv.String(), Kind: kindOf[o.gvr]},
		ObjectMeta: o.meta(ns),
	}
}

func terminating(name string, finalizers ...corev1.FinalizerName) *corev1.Namespace {
	ts := metav1.NewTime(start)
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "ns-uid", ResourceVersion: "7", DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

func newFixture(t *testing.T, ns *corev1.Namespace, objs ...object) *fixture {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var stored []runtime.Object
	for _, o := range objs {
		stored = append(stored, o.partial(ns.Name))
	}
	md := metadatafake.NewSimpleMetadataClient(scheme, stored...)
	// The fake tracker knows no deletecollection: act like the API, which
	// removes objects without finalizers and marks the others deleted.
	md.PrependReactor("delete-collection", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		a := action.(k8stesting.DeleteCollectionAction)
		list, err := md.Tracker().List(a.GetResource(), fakeListKind, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			p := item.(*metav1.PartialObjectMetadata)
			if len(p.Finalizers) == 0 {
				if err := md.Tracker().Delete(a.GetResource(), p.Namespace, p.Name); err != nil {
					return true, nil, err
				}
				continue
			}
			p = p.DeepCopy()
			ts := metav1.NewTime(start)
			p.DeletionTimestamp = &ts
			if err := md.Tracker().Update(a.GetResource(), p, p.Namespace); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})

	kube := fake.NewSimpleClientset(ns)
	nsInformer := informers.NewSharedInformerFactory(kube, 0).Core().V1().Namespaces()
	if err := nsInformer.Informer().GetIndexer().Add(ns); err != nil {
		t.Fatal(err)
	}
	infs := fakeInformers{}
	c := NewController(kube, md, nsInformer, infs, testResources, WithClock(clocktesting.NewFakeClock(start)))
	f := &fixture{c: c, kube: kube, md: md, informers: infs, nsIndexer: nsInformer.Informer().GetIndexer()}
	for _, o := range objs {
		if !o.notCached {
			f.cache(t, o.gvr, o.typed(ns.Name))
		}
	}
	kube.ClearActions()
	md.ClearActions()
	return f
}

// cache adds or replaces obj in the informer of gvr.
func (f *fixture) cache(t *testing.T, gvr schema.GroupVersionResource, obj runtime.Object) {
	t.Helper()
	if err := f.informers.Informer(gvr.GroupResource()).GetIndexer().Update(obj); err != nil {
		t.Fatal(err)
	}
}

// uncache removes obj from the informer of gvr.
func (f *fixture) uncache(t *testing.T, gvr schema.GroupVersionResource, obj runtime.Object) {
	t.Helper()
	if err := f.informers.Informer(gvr.GroupResource()).GetIndexer().Delete(obj); err != nil {
		t.Fatal(err)
	}
}

// actions summarises the recorded actions as "verb resource[/subresource]",
// the metadata client's first, then the clientset's; it clears both.
func (f *fixture) actions() []string {
	var out []string
	for _, fk := range []*k8stesting.Fake{&f.md.Fake, &f.kube.Fake} {
		for _, a := range fk.Actions() {
			s := a.GetVerb() + " " + a.GetResource().Resource
			if a.GetSubresource() != "" {
				s += "/" + a.GetSubresource()
			}
			out = append(out, s)
		}
		fk.ClearActions()
	}
	return out
}

// lastNamespace returns the namespace written by the clientset's last
// update or finalize.
func (f *fixture) lastNamespace(t *testing.T) *corev1.Namespace {
	t.Helper()
	acts := f.kube.Actions()
	for i := len(acts) - 1; i >= 0; i-- {
		switch a := acts[i].(type) {
		case k8stesting.UpdateAction:
			return a.GetObject().(*corev1.Namespace)
		case k8stesting.CreateAction:
			return a.GetObject().(*corev1.Namespace)
		}
	}
	t.Fatal("no namespace written")
	return nil
}

// conditionSummary renders the True conditions of ns as "Type: message".
func conditionSummary(ns *corev1.Namespace) []string {
	var out []string
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			out = append(out, string(c.Type)+": "+c.Message)
		}
	}
	return out
}

func TestSyncDeletionSequence(t *testing.T) {
	ctx := context.Background()
	ns := terminating("demo", corev1.FinalizerKubernetes)
	pod := object{gvr: podsGVR, name: "web"}
	held := object{gvr: configMapsGVR, name: "held", finalizers: []string{"example.com/hold"}}
	f := newFixture(t, ns, pod, held)

	// Pass 1: everything is deleted; the held config map stays.
	err := f.c.Sync(ctx, "demo")
	if !errors.Is(err, ErrContentRemaining) {
		t.Fatalf("Sync #1 = %v; want ErrContentRemaining", err)
	}
	written := f.lastNamespace(t)
	wantConds := []string{
		"NamespaceContentRemaining: Some resources are remaining: configmaps. has 1 resource instances, pods. has 1 resource instances",
		"NamespaceFinalizersRemaining: Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
	}
	if diff := cmp.Diff(wantConds, conditionSummary(written)); diff != "" {
		t.Errorf("Sync #1 conditions (-want +got):\n%s", diff)
	}
	if got, want := len(written.Status.Conditions), 5; got != want {
		t.Errorf("Sync #1 wrote %d conditions; want %d", got, want)
	}
	if diff := cmp.Diff([]string{"delete-collection pods", "delete-collection configmaps", "update namespaces/status"}, f.actions()); diff != "" {
		t.Errorf("Sync #1 actions (-want +got):\n%s", diff)
	}

	// The informers catch up: the pod is gone, the config map is being deleted.
	f.uncache(t, podsGVR, pod.typed("demo"))
	held.deleting = true
	f.cache(t, configMapsGVR, held.typed("demo"))
	if err := f.nsIndexer.Update(written); err != nil {
		t.Fatal(err)
	}

	// Pass 2: nothing new to delete; the finalizer still holds the config map.
	if err := f.c.Sync(ctx, "demo"); !errors.Is(err, ErrContentRemaining) {
		t.Fatalf("Sync #2 = %v; want ErrContentRemaining", err)
	}
	written = f.lastNamespace(t)
	if diff := cmp.Diff([]string{"update namespaces/status"}, f.actions()); diff != "" {
		t.Errorf("Sync #2 actions (-want +got):\n%s", diff)
	}
	if err := f.nsIndexer.Update(written); err != nil {
		t.Fatal(err)
	}

	// Its owner removes the finalizer; the config map goes away.
	if err := f.md.Tracker().Delete(configMapsGVR, "demo", "held"); err != nil {
		t.Fatal(err)
	}
	f.uncache(t, configMapsGVR, held.typed("demo"))

	// Pass 3: the cache is empty, the store confirms it, the namespace is finalized.
	if err := f.c.Sync(ctx, "demo"); err != nil {
		t.Fatalf("Sync #3 = %v; want nil", err)
	}
	finalized := f.lastNamespace(t)
	want := []string{"list pods", "list configmaps", "list deployments", "update namespaces/status", "create namespaces/finalize"}
	if diff := cmp.Diff(want, f.actions()); diff != "" {
		t.Errorf("Sync #3 actions (-want +got):\n%s", diff)
	}
	if len(finalized.Spec.Finalizers) != 0 {
		t.Errorf("finalize spec.finalizers = %v; want none", finalized.Spec.Finalizers)
	}
	if finalized.ResourceVersion == "" {
		t.Error("finalize carries no resourceVersion; want the namespace's")
	}
	if got := conditionSummary(finalized); len(got) != 0 {
		t.Errorf("conditions before finalize = %v; want all False", got)
	}
}

func TestSync(t *testing.T) {
	tests := []struct {
		name    string
		ns      *corev1.Namespace
		objs    []object
		failDC  bool
		wantErr error
		want    []string
		// wantFinalizers is spec.finalizers of the finalize request, if any.
		wantFinalizers []corev1.FinalizerName
		wantCondition  string
	}{
		{
			name: "not being deleted is left alone",
			ns:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}},
			objs: []object{{gvr: podsGVR, name: "web"}},
		},
		{
			name: "finalized already is left alone",
			ns:   terminating("demo"),
		},
		{
			name: "phase is set to Terminating first",
			ns: func() *corev1.Namespace {
				ns := terminating("demo", corev1.FinalizerKubernetes)
				ns.Status.Phase = corev1.NamespaceActive
				return ns
			}(),
			want:           []string{"list pods", "list configmaps", "list deployments", "update namespaces/status", "update namespaces/status", "create namespaces/finalize"},
			wantFinalizers: []corev1.FinalizerName{},
		},
		{
			name:           "empty namespace keeps foreign finalizers",
			ns:             terminating("demo", "example.com/keep", corev1.FinalizerKubernetes),
			want:           []string{"list pods", "list configmaps", "list deployments", "update namespaces/status", "create namespaces/finalize"},
			wantFinalizers: []corev1.FinalizerName{"example.com/keep"},
		},
		{
			name:    "a stale cache never releases the namespace",
			ns:      terminating("demo", corev1.FinalizerKubernetes),
			objs:    []object{{gvr: deploymentsGVR, name: "late", notCached: true}},
			wantErr: ErrContentRemaining,
			want:    []string{"list pods", "list configmaps", "list deployments", "delete-collection deployments", "update namespaces/status"},
		},
		{
			name:    "objects being deleted are waited for, not deleted again",
			ns:      terminating("demo", corev1.FinalizerKubernetes),
			objs:    []object{{gvr: podsGVR, name: "web", deleting: true}},
			wantErr: ErrContentRemaining,
			want:    []string{"update namespaces/status"},
		},
		{
			name:          "failed deletion is reported in a condition",
			ns:            terminating("demo", corev1.FinalizerKubernetes),
			objs:          []object{{gvr: podsGVR, name: "web"}},
			failDC:        true,
			want:          []string{"delete-collection pods", "update namespaces/status"},
			wantCondition: "NamespaceDeletionContentFailure: Failed to delete all resource types, 1 remaining: deleting pods in namespace demo: Internal error occurred: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.ns, tt.objs...)
			if tt.failDC {
				f.md.PrependReactor("delete-collection", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewInternalError(errors.New("boom"))
				})
			}
			err := f.c.Sync(context.Background(), "demo")
			switch {
			case tt.failDC:
				if err == nil || errors.Is(err, ErrContentRemaining) {
					t.Errorf("Sync = %v; want the deletion error", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Errorf("Sync = %v; want %v", err, tt.wantErr)
			}
			acts := f.kube.Actions()
			got := f.actions()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if tt.wantFinalizers != nil {
				last := acts[len(acts)-1].(k8stesting.CreateAction)
				ns := last.GetObject().(*corev1.Namespace)
				if diff := cmp.Diff(tt.wantFinalizers, ns.Spec.Finalizers); diff != "" {
					t.Errorf("finalize spec.finalizers (-want +got):\n%s", diff)
				}
			}
			if tt.wantCondition != "" {
				var status *corev1.Namespace
				for _, a := range acts {
					if u, ok := a.(k8stesting.UpdateAction); ok && u.GetSubresource() == "status" {
						status = u.GetObject().(*corev1.Namespace)
					}
				}
				if status == nil || !containsString(conditionSummary(status), tt.wantCondition) {
					t.Errorf("conditions = %v; want %q", conditionSummary(status), tt.wantCondition)
				}
			}
		})
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if strings.HasPrefix(v, s) {
			return true
		}
	}
	return false
}

func TestConditionsKeepTransitionTime(t *testing.T) {
	earlier := metav1.NewTime(start.Add(-time.Hour))
	status := corev1.NamespaceStatus{Conditions: []corev1.NamespaceCondition{{
		Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
		Message: "old", LastTransitionTime: earlier,
	}}}
	state := &contentState{
		remaining:  map[schema.GroupVersionResource]int{podsGVR: 2},
		finalizers: map[string]int{},
	}
	now := metav1.NewTime(start)
	if !mergeConditions(&status, desiredConditions(state), now) {
		t.Fatal("mergeConditions = false; want true")
	}
	i := conditionIndex(status.Conditions, corev1.NamespaceContentRemaining)
	if got := status.Conditions[i]; !got.LastTransitionTime.Equal(&earlier) || got.Message != "Some resources are remaining: pods. has 2 resource instances" {
		t.Errorf("ContentRemaining = %+v; want the new message at the old transition time", got)
	}
	if mergeConditions(&status, desiredConditions(state), now) {
		t.Error("second mergeConditions = true; want false (nothing changed)")
	}
}

func TestContentDeletionWakesTerminatingNamespace(t *testing.T) {
	tests := []struct {
		name string
		ns   *corev1.Namespace
		want int
	}{
		{name: "terminating namespace is enqueued", ns: terminating("demo", corev1.FinalizerKubernetes), want: 1},
		{name: "active namespace is not", ns: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.ns)
			f.c.contentDeleted(cache.DeletedFinalStateUnknown{Key: "demo/web", Obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}}})
			if got := f.c.queue.Len(); got != tt.want {
				t.Errorf("queue length after a deletion = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestRunFinalizesNamespace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := terminating("demo", corev1.FinalizerKubernetes)
	kube := fake.NewSimpleClientset(ns)
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	md := metadatafake.NewSimpleMetadataClient(scheme)
	factory := informers.NewSharedInformerFactory(kube, 0)
	nsInformer := factory.Core().V1().Namespaces()
	infs := fakeInformers{}
	c := NewController(kube, md, nsInformer, infs, testResources)
	factory.Start(ctx.Done())
	for _, inf := range infs {
		go inf.Run(ctx.Done())
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 2)
	}()
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := kube.CoreV1().Namespaces().Get(ctx, "demo", metav1.GetOptions{})
		return err == nil && len(got.Spec.Finalizers) == 0, err
	})
	if err != nil {
		t.Errorf("waiting for the namespace to be finalized: %v", err)
	}
	cancel()
	<-done
}
