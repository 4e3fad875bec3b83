package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR       = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

	testResources = []Resource{
		{GVR: podsGVR, Kind: "Pod", Namespaced: true},
		{GVR: nodesGVR, Kind: "Node"},
		{GVR: replicaSetsGVR, Kind: "ReplicaSet", Namespaced: true},
		{GVR: deploymentsGVR, Kind: "Deployment", Namespaced: true},
	}
	kinds = map[schema.GroupVersionResource]string{podsGVR: "Pod", nodesGVR: "Node", replicaSetsGVR: "ReplicaSet", deploymentsGVR: "Deployment"}
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

// obj describes one object of the test world.
type obj struct {
	gvr        schema.GroupVersionResource
	ns, name   string
	uid        types.UID
	rv         string
	owners     []metav1.OwnerReference
	finalizers []string
	deleting   bool
}

func (o obj) objectMeta() metav1.ObjectMeta {
	rv := o.rv
	if rv == "" {
		rv = "1"
	}
	m := metav1.ObjectMeta{Namespace: o.ns, Name: o.name, UID: o.uid, ResourceVersion: rv, OwnerReferences: o.owners, Finalizers: o.finalizers}
	if o.deleting {
		ts := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		m.DeletionTimestamp = &ts
	}
	return m
}

// typed returns the object as an informer holds it.
func (o obj) typed() runtime.Object {
	switch o.gvr {
	case podsGVR:
		return &corev1.Pod{ObjectMeta: o.objectMeta()}
	case nodesGVR:
		return &corev1.Node{ObjectMeta: o.objectMeta()}
	case replicaSetsGVR:
		return &appsv1.ReplicaSet{ObjectMeta: o.objectMeta()}
	default:
		return &appsv1.Deployment{ObjectMeta: o.objectMeta()}
	}
}

// partial returns the object as the metadata client holds it.
func (o obj) partial() *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: o.gvr.GroupVersion().String(), Kind: kinds[o.gvr]},
		ObjectMeta: o.objectMeta(),
	}
}

// ref returns a reference to o.
func (o obj) ref(block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: o.gvr.GroupVersion().String(), Kind: kinds[o.gvr], Name: o.name, UID: o.uid}
	if block {
		r.BlockOwnerDeletion = ptr.To(true)
	}
	return r
}

func (o obj) item() Item {
	return Item{Resource: o.gvr.GroupResource(), Namespace: o.ns, Name: o.name, UID: o.uid}
}

// fixture is a collector over a fake metadata client and seeded informers.
type fixture struct {
	c         *Controller
	md        *metadatafake.FakeMetadataClient
	deletes   *deleteRecorder
	informers fakeInformers
}

// deleteRecorder wraps a metadata client and records the options of every
// Delete, which the fake's recorded actions leave out.
type deleteRecorder struct {
	metadata.Interface

	mu   sync.Mutex // protects opts
	opts []metav1.DeleteOptions
}

func (d *deleteRecorder) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return recordingGetter{Getter: d.Interface.Resource(gvr), d: d}
}

// take returns and forgets the options of the oldest recorded Delete.
func (d *deleteRecorder) take() (metav1.DeleteOptions, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.opts) == 0 {
		return metav1.DeleteOptions{}, false
	}
	o := d.opts[0]
	d.opts = d.opts[1:]
	return o, true
}

type recordingGetter struct {
	metadata.Getter
	d *deleteRecorder
}

func (g recordingGetter) Namespace(ns string) metadata.ResourceInterface {
	return recordingResource{ResourceInterface: g.Getter.Namespace(ns), d: g.d}
}

type recordingResource struct {
	metadata.ResourceInterface
	d *deleteRecorder
}

func (r recordingResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, subresources ...string) error {
	r.d.mu.Lock()
	r.d.opts = append(r.d.opts, opts)
	r.d.mu.Unlock()
	return r.ResourceInterface.Delete(ctx, name, opts, subresources...)
}

// newFixture builds a collector whose store holds stored and whose cache
// holds cached.
func newFixture(t *testing.T, stored, cached []obj) *fixture {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, o := range stored {
		objs = append(objs, o.partial())
	}
	f := &fixture{md: metadatafake.NewSimpleMetadataClient(scheme, objs...), informers: fakeInformers{}}
	f.deletes = &deleteRecorder{Interface: f.md}
	f.c = NewController(f.deletes, f.informers, testResources)
	for _, o := range cached {
		f.cache(t, o)
	}
	return f
}

// cache adds or replaces o in its informer.
func (f *fixture) cache(t *testing.T, o obj) {
	t.Helper()
	if err := f.informers.Informer(o.gvr.GroupResource()).GetIndexer().Update(o.typed()); err != nil {
		t.Fatal(err)
	}
}

// uncache removes o from its informer.
func (f *fixture) uncache(t *testing.T, o obj) {
	t.Helper()
	if err := f.informers.Informer(o.gvr.GroupResource()).GetIndexer().Delete(o.typed()); err != nil {
		t.Fatal(err)
	}
}

// actions summarises and clears the metadata client's actions:
// "get <resource> <ns>/<name>", "delete <resource> <ns>/<name> <policy>",
// "patch <resource> <ns>/<name> <path>=<value>".
func (f *fixture) actions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, a := range f.md.Actions() {
		target := a.GetResource().Resource + " " + a.GetNamespace() + "/"
		switch a.GetVerb() {
		case "get":
			out = append(out, "get "+target+a.(k8stesting.GetAction).GetName())
		case "delete":
			d := a.(k8stesting.DeleteAction)
			opts, ok := f.deletes.take()
			if !ok || opts.Preconditions == nil || opts.Preconditions.UID == nil || opts.Preconditions.ResourceVersion == nil || opts.PropagationPolicy == nil {
				t.Errorf("delete %s carries no UID and resourceVersion preconditions or no propagation policy", d.GetName())
				out = append(out, "delete "+target+d.GetName())
				continue
			}
			out = append(out, fmt.Sprintf("delete %s%s %s", target, d.GetName(), *opts.PropagationPolicy))
		case "patch":
			p := a.(k8stesting.PatchAction)
			out = append(out, "patch "+target+p.GetName()+" "+summarisePatch(t, p.GetPatch()))
		default:
			out = append(out, a.GetVerb()+" "+target)
		}
	}
	f.md.ClearActions()
	return out
}

// summarisePatch checks that a JSON patch tests uid and resourceVersion and
// renders its last operation.
func summarisePatch(t *testing.T, data []byte) string {
	t.Helper()
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &ops); err != nil {
		t.Fatalf("patch %s: %v", data, err)
	}
	if len(ops) != 3 || ops[0].Op != "test" || ops[0].Path != "/metadata/uid" || ops[1].Op != "test" || ops[1].Path != "/metadata/resourceVersion" {
		t.Errorf("patch %s does not test uid and resourceVersion first", data)
	}
	last := ops[len(ops)-1]
	if last.Op == "remove" {
		return "remove " + last.Path
	}
	switch last.Path {
	case "/metadata/ownerReferences":
		var refs []metav1.OwnerReference
		_ = json.Unmarshal(last.Value, &refs)
		var names []string
		for _, r := range refs {
			names = append(names, r.Name)
			if r.BlockOwnerDeletion != nil {
				names[len(names)-1] += "(block)"
			}
		}
		return fmt.Sprintf("%s %s=%v", last.Op, last.Path, names)
	default:
		return fmt.Sprintf("%s %s=%s", last.Op, last.Path, last.Value)
	}
}

// queued drains the queue and returns its items' names.
func (f *fixture) queued() []string {
	var out []string
	for f.c.queue.Len() > 0 {
		item, _ := f.c.queue.Get()
		out = append(out, item.Resource.Resource+" "+item.Name)
		f.c.queue.Done(item)
		f.c.queue.Forget(item)
	}
	slices.Sort(out)
	return out
}

var (
	rs    = obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid"}
	rsNew = obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid-2"}
	node  = obj{gvr: nodesGVR, name: "node-1", uid: "node-uid"}
	other = obj{gvr: deploymentsGVR, ns: "demo", name: "other", uid: "other-uid"}
	podOf = func(owners ...metav1.OwnerReference) obj {
		return obj{gvr: podsGVR, ns: "demo", name: "p", uid: "p-uid", owners: owners}
	}
	delBkg = "delete pods demo/p Background"
)

func TestSyncBackground(t *testing.T) {
	tests := []struct {
		name   string
		stored []obj
		cached []obj
		item   obj
		want   []string
	}{
		{
			name:   "owner gone from store and cache: confirmed, then deleted",
			stored: []obj{podOf(rs.ref(true))},
			cached: []obj{podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs", delBkg},
		},
		{
			name:   "owner missing only from a lagging cache: kept",
			stored: []obj{rs, podOf(rs.ref(true))},
			cached: []obj{podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs"},
		},
		{
			name:   "owner recreated under another UID: deleted",
			stored: []obj{rsNew, podOf(rs.ref(true))},
			cached: []obj{rsNew, podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs", delBkg},
		},
		{
			name:   "owner in the cache: nothing to ask",
			stored: []obj{rs, podOf(rs.ref(true))},
			cached: []obj{rs, podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
		},
		{
			name:   "one live owner of two: kept, dangling reference dropped",
			stored: []obj{other, podOf(rs.ref(false), other.ref(false))},
			cached: []obj{other, podOf(rs.ref(false), other.ref(false))},
			item:   podOf(rs.ref(false), other.ref(false)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs", "patch pods demo/p replace /metadata/ownerReferences=[other]"},
		},
		{
			name:   "dependent already gone from the store",
			cached: []obj{podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p"},
		},
		{
			name:   "dependent adopted meanwhile: the live references decide",
			stored: []obj{other, podOf(other.ref(true))},
			cached: []obj{other, podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p"},
		},
		{
			name:   "cluster-scoped owner gone",
			stored: []obj{podOf(node.ref(false))},
			cached: []obj{podOf(node.ref(false))},
			item:   podOf(node.ref(false)),
			want:   []string{"get pods demo/p", "get nodes /node-1", delBkg},
		},
		{
			name:   "owner of another namespace does not count",
			stored: []obj{{gvr: replicaSetsGVR, ns: "elsewhere", name: "rs", uid: "rs-uid"}, podOf(rs.ref(true))},
			cached: []obj{{gvr: replicaSetsGVR, ns: "elsewhere", name: "rs", uid: "rs-uid"}, podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs", delBkg},
		},
		{
			name:   "owner kind not served: never collected",
			stored: []obj{podOf(metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w-uid"})},
			cached: []obj{podOf(metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w-uid"})},
			item:   podOf(metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "w-uid"}),
		},
		{
			name:   "cluster-scoped dependent of a namespaced kind: never collected",
			stored: []obj{{gvr: nodesGVR, name: "n", uid: "n-uid", owners: []metav1.OwnerReference{rs.ref(false)}}},
			cached: []obj{{gvr: nodesGVR, name: "n", uid: "n-uid", owners: []metav1.OwnerReference{rs.ref(false)}}},
			item:   obj{gvr: nodesGVR, name: "n", uid: "n-uid"},
		},
		{
			name: "garbage with its own orphan finalizer keeps that policy",
			stored: []obj{{gvr: podsGVR, ns: "demo", name: "p", uid: "p-uid", owners: []metav1.OwnerReference{rs.ref(true)},
				finalizers: []string{metav1.FinalizerOrphanDependents}}},
			cached: []obj{podOf(rs.ref(true))},
			item:   podOf(rs.ref(true)),
			want:   []string{"get pods demo/p", "get replicasets demo/rs", "delete pods demo/p Orphan"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.stored, tt.cached)
			if err := f.c.Sync(context.Background(), tt.item.item()); err != nil {
				t.Fatalf("Sync = %v; want nil", err)
			}
			if diff := cmp.Diff(tt.want, f.actions(t)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAbsentOwnerIsLookedUpOnce(t *testing.T) {
	p1 := obj{gvr: podsGVR, ns: "demo", name: "p1", uid: "p1-uid", owners: []metav1.OwnerReference{rs.ref(true)}}
	p2 := obj{gvr: podsGVR, ns: "demo", name: "p2", uid: "p2-uid", owners: []metav1.OwnerReference{rs.ref(true)}}
	f := newFixture(t, []obj{p1, p2}, []obj{p1, p2})
	ctx := context.Background()
	for _, p := range []obj{p1, p2} {
		if err := f.c.Sync(ctx, p.item()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"get pods demo/p1", "get replicasets demo/rs", "delete pods demo/p1 Background",
		"get pods demo/p2", "delete pods demo/p2 Background",
	}
	if diff := cmp.Diff(want, f.actions(t)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

func TestSyncForegroundOrder(t *testing.T) {
	ctx := context.Background()
	deploy := obj{gvr: deploymentsGVR, ns: "demo", name: "d", uid: "d-uid", deleting: true, finalizers: []string{metav1.FinalizerDeleteDependents}}
	set := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", owners: []metav1.OwnerReference{deploy.ref(true)}}
	pod := obj{gvr: podsGVR, ns: "demo", name: "p", uid: "p-uid", owners: []metav1.OwnerReference{set.ref(true)}}
	f := newFixture(t, []obj{deploy, set, pod}, []obj{deploy, set, pod})

	step := func(name string, item obj, wantActions, wantQueued []string) {
		t.Helper()
		if err := f.c.Sync(ctx, item.item()); err != nil {
			t.Fatalf("%s: Sync = %v; want nil", name, err)
		}
		if diff := cmp.Diff(wantActions, f.actions(t)); diff != "" {
			t.Errorf("%s: actions (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(wantQueued, f.queued()); diff != "" {
			t.Errorf("%s: queued (-want +got):\n%s", name, diff)
		}
	}

	// The deployment waits for its replica set, which has not started going.
	step("deployment", deploy, nil, []string{"replicasets rs"})
	// The replica set has a pod: it goes in the foreground too.
	step("replica set", set, []string{"get replicasets demo/rs", "delete replicasets demo/rs Foreground"}, nil)

	// The API marks it; now it waits for its pod.
	set.deleting, set.finalizers = true, []string{metav1.FinalizerDeleteDependents}
	f.cache(t, set)
	step("replica set waiting", set, nil, []string{"pods p"})
	step("pod", pod, []string{"get pods demo/p", "delete pods demo/p Background"}, nil)

	// The pod is gone: the replica set's finalizer goes, then the deployment's.
	f.uncache(t, pod)
	step("replica set released", set, []string{"patch replicasets demo/rs remove /metadata/finalizers"}, nil)
	f.uncache(t, set)
	step("deployment released", deploy, []string{"patch deployments demo/d remove /metadata/finalizers"}, nil)
}

func TestForegroundWaitsOnlyForBlockingDependents(t *testing.T) {
	owner := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", deleting: true,
		finalizers: []string{metav1.FinalizerDeleteDependents, "example.com/keep"}}
	loose := obj{gvr: podsGVR, ns: "demo", name: "loose", uid: "loose-uid", owners: []metav1.OwnerReference{owner.ref(false)}}
	f := newFixture(t, []obj{owner, loose}, []obj{owner, loose})
	if err := f.c.Sync(context.Background(), owner.item()); err != nil {
		t.Fatal(err)
	}
	want := []string{`patch replicasets demo/rs replace /metadata/finalizers=["example.com/keep"]`}
	if diff := cmp.Diff(want, f.actions(t)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pods loose"}, f.queued()); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
}

func TestDependentWithLiveOwnerUnblocksWaitingOwner(t *testing.T) {
	waiting := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", deleting: true, finalizers: []string{metav1.FinalizerDeleteDependents}}
	p := podOf(waiting.ref(true), other.ref(false))
	f := newFixture(t, []obj{waiting, other, p}, []obj{waiting, other, p})
	if err := f.c.Sync(context.Background(), p.item()); err != nil {
		t.Fatal(err)
	}
	want := []string{"get pods demo/p", "patch pods demo/p replace /metadata/ownerReferences=[other]"}
	if diff := cmp.Diff(want, f.actions(t)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

func TestSyncOrphan(t *testing.T) {
	owner := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", deleting: true, finalizers: []string{metav1.FinalizerOrphanDependents}}
	only := obj{gvr: podsGVR, ns: "demo", name: "p1", uid: "p1-uid", owners: []metav1.OwnerReference{owner.ref(true)}}
	shared := obj{gvr: podsGVR, ns: "demo", name: "p2", uid: "p2-uid", owners: []metav1.OwnerReference{owner.ref(true), other.ref(false)}}
	f := newFixture(t, []obj{owner, other, only, shared}, []obj{owner, other, only, shared})
	if err := f.c.Sync(context.Background(), owner.item()); err != nil {
		t.Fatal(err)
	}
	got := f.actions(t)
	if len(got) != 3 {
		t.Fatalf("actions = %v; want two dependent patches, then the owner's", got)
	}
	// Dependents are patched concurrently; the owner's finalizer goes last.
	wantDeps := []string{
		"patch pods demo/p1 remove /metadata/ownerReferences",
		"patch pods demo/p2 replace /metadata/ownerReferences=[other]",
	}
	deps := slices.Clone(got[:2])
	slices.Sort(deps)
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("dependent patches (-want +got):\n%s", diff)
	}
	if want := "patch replicasets demo/rs remove /metadata/finalizers"; got[2] != want {
		t.Errorf("last action = %q; want %q", got[2], want)
	}
}

func TestStalePatchIsRetriedOnFreshRead(t *testing.T) {
	owner := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", deleting: true, finalizers: []string{metav1.FinalizerOrphanDependents}}
	dep := obj{gvr: podsGVR, ns: "demo", name: "p1", uid: "p1-uid", owners: []metav1.OwnerReference{owner.ref(true)}}
	fresh := dep
	fresh.rv = "2"
	f := newFixture(t, []obj{owner, fresh}, []obj{owner, dep})
	failed := false
	f.md.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failed {
			return false, nil, nil
		}
		failed = true
		return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), "p1", fmt.Errorf("stale"))
	})
	if err := f.c.Sync(context.Background(), owner.item()); err != nil {
		t.Fatalf("Sync = %v; want nil", err)
	}
	want := []string{
		"patch pods demo/p1 remove /metadata/ownerReferences",
		"get pods demo/p1",
		"patch pods demo/p1 remove /metadata/ownerReferences",
		"patch replicasets demo/rs remove /metadata/finalizers",
	}
	acts := f.md.Actions()
	if diff := cmp.Diff(want, f.actions(t)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if len(acts) >= 3 {
		if p := string(acts[2].(k8stesting.PatchAction).GetPatch()); !json.Valid([]byte(p)) || !containsRV(p, "2") {
			t.Errorf("retried patch %s; want it to test resourceVersion 2", p)
		}
	}
}

func containsRV(patch, rv string) bool {
	var ops []map[string]any
	if err := json.Unmarshal([]byte(patch), &ops); err != nil {
		return false
	}
	for _, op := range ops {
		if op["path"] == "/metadata/resourceVersion" && op["value"] == rv {
			return true
		}
	}
	return false
}

func TestEventsEnqueue(t *testing.T) {
	waiting := obj{gvr: replicaSetsGVR, ns: "demo", name: "rs", uid: "rs-uid", deleting: true, finalizers: []string{metav1.FinalizerDeleteDependents}}
	p1 := obj{gvr: podsGVR, ns: "demo", name: "p1", uid: "p1-uid", owners: []metav1.OwnerReference{waiting.ref(true)}}
	p2 := obj{gvr: podsGVR, ns: "demo", name: "p2", uid: "p2-uid", owners: []metav1.OwnerReference{waiting.ref(false)}}
	plain := obj{gvr: podsGVR, ns: "demo", name: "plain", uid: "plain-uid"}
	tests := []struct {
		name  string
		event func(c *Controller)
		want  []string
	}{
		{name: "deleted owner wakes its dependents", event: func(c *Controller) { c.objectDeleted(c.byGR[waiting.gvr.GroupResource()], waiting.typed()) },
			want: []string{"pods p1", "pods p2"}},
		{name: "deleted dependent wakes its waiting owner", event: func(c *Controller) {
			c.objectDeleted(c.byGR[podsGVR.GroupResource()], cache.DeletedFinalStateUnknown{Key: "demo/p1", Obj: p1.typed()})
		}, want: []string{"replicasets rs"}},
		{name: "new object with owners", event: func(c *Controller) { c.objectAdded(c.byGR[podsGVR.GroupResource()], p1.typed()) },
			want: []string{"pods p1"}},
		{name: "new object without owners", event: func(c *Controller) { c.objectAdded(c.byGR[podsGVR.GroupResource()], plain.typed()) }},
		{name: "released dependent wakes its waiting owner", event: func(c *Controller) {
			cur := p1
			cur.owners, cur.rv = nil, "2"
			c.objectUpdated(c.byGR[podsGVR.GroupResource()], p1.typed(), cur.typed())
		}, want: []string{"replicasets rs"}},
		{name: "status-only update", event: func(c *Controller) {
			cur := p1
			cur.rv = "2"
			c.objectUpdated(c.byGR[podsGVR.GroupResource()], p1.typed(), cur.typed())
		}},
		{name: "resync finds what needs attention", event: func(c *Controller) { c.Resync() },
			want: []string{"pods p1", "pods p2", "replicasets rs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, []obj{waiting, p1, p2, plain})
			tt.event(f.c)
			if diff := cmp.Diff(tt.want, f.queued()); diff != "" {
				t.Errorf("queued (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunCollectsOrphan(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := podOf(rs.ref(true))
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	md := metadatafake.NewSimpleMetadataClient(scheme, p.partial())
	infs := fakeInformers{}
	// The pod informer lists the pod; the others list nothing.
	infs[podsGVR.GroupResource()] = cache.NewSharedIndexInformer(&cache.ListWatch{
		ListFunc: func(metav1.ListOptions) (runtime.Object, error) {
			return &corev1.PodList{Items: []corev1.Pod{*p.typed().(*corev1.Pod)}}, nil
		},
		WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}, &corev1.Pod{}, 0, cache.Indexers{})
	c := NewController(md, infs, testResources, WithResyncPeriod(time.Hour))
	for _, inf := range infs {
		go inf.Run(ctx.Done())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 2)
	}()
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := md.Resource(podsGVR).Namespace("demo").Get(ctx, "p", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("waiting for the orphan to be collected: %v", err)
	}
	cancel()
	<-done
}
