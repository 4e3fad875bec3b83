package endpoints

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

const ns = "demo"

// podOpt adjusts a test pod.
type podOpt func(*corev1.Pod)

func pod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "main", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	if ip != "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func unready(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }

func terminatingPod(p *corev1.Pod) {
	ts := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p.DeletionTimestamp = &ts
}

func httpPort(port int32) podOpt {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = port }
}

func noNamedPort(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }

func labelled(k, v string) podOpt { return func(p *corev1.Pod) { p.Labels = map[string]string{k: v} } }

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func service(opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: "svc-uid", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)},
			},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// fixture is a controller over a fake clientset with seeded informers.
type fixture struct {
	c         *Controller
	client    *fake.Clientset
	pods      cache.Indexer
	endpoints cache.Indexer
	slices    cache.Indexer
	created   int
}

func newFixture(t *testing.T, opts []Option, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	f := &fixture{client: client}
	// The fake tracker neither generates names nor assigns UIDs.
	client.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		m := action.(k8stesting.CreateAction).GetObject().(metav1.Object)
		if m.GetName() == "" && m.GetGenerateName() != "" {
			f.created++
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), f.created))
		}
		if m.GetUID() == "" {
			m.SetUID(types.UID("uid-" + m.GetName()))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	core := factory.Core().V1()
	svcs, pods, eps, sliceInf := core.Services(), core.Pods(), core.Endpoints(), factory.Discovery().V1().EndpointSlices()
	for _, o := range objs {
		var err error
		switch x := o.(type) {
		case *corev1.Service:
			err = svcs.Informer().GetIndexer().Add(x)
		case *corev1.Pod:
			err = pods.Informer().GetIndexer().Add(x)
		case *corev1.Endpoints:
			err = eps.Informer().GetIndexer().Add(x)
		case *discoveryv1.EndpointSlice:
			err = sliceInf.Informer().GetIndexer().Add(x)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	f.c = NewController(client, svcs, pods, eps, sliceInf, record.NewFakeRecorder(100), opts...)
	f.pods, f.endpoints, f.slices = pods.Informer().GetIndexer(), eps.Informer().GetIndexer(), sliceInf.Informer().GetIndexer()
	client.ClearActions()
	return f
}

// writes summarises the write actions as "verb resource name", with
// "prefix*" for a name the server generates.
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		switch a.GetVerb() {
		case "create", "update":
			m := a.(k8stesting.CreateAction).GetObject().(metav1.Object)
			name := m.GetName()
			if name == "" {
				name = m.GetGenerateName() + "*"
			}
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+name)
		case "delete":
			out = append(out, "delete "+a.GetResource().Resource+" "+a.(k8stesting.DeleteAction).GetName())
		}
	}
	return out
}

// written returns the objects of resource the recorded creates and updates
// wrote, in order.
func (f *fixture) written(resource string) []runtime.Object {
	var out []runtime.Object
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource == resource && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			out = append(out, a.(k8stesting.CreateAction).GetObject())
		}
	}
	return out
}

// observe makes the Endpoints and slice informers show what the store now
// holds, as their watches would, and clears the recorded actions.
func (f *fixture) observe(t *testing.T) {
	t.Helper()
	for _, r := range []struct {
		gvr     schema.GroupVersionResource
		gvk     schema.GroupVersionKind
		indexer cache.Indexer
	}{
		{corev1.SchemeGroupVersion.WithResource("endpoints"), corev1.SchemeGroupVersion.WithKind("Endpoints"), f.endpoints},
		{discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), f.slices},
	} {
		list, err := f.client.Tracker().List(r.gvr, r.gvk, ns)
		if err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		objs := make([]any, len(items))
		for i := range items {
			objs[i] = items[i]
		}
		if err := r.indexer.Replace(objs, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.client.ClearActions()
}

func address(p *corev1.Pod) corev1.EndpointAddress {
	node := p.Spec.NodeName
	return corev1.EndpointAddress{IP: p.Status.PodIP, NodeName: &node, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name, UID: p.UID}}
}

func TestSyncEndpoints(t *testing.T) {
	ready := pod("a", "10.0.0.1")
	notReady := pod("b", "10.0.0.2", unready, httpPort(8081))
	gone := pod("c", "10.0.0.3", terminatingPod)
	metricsOnly := pod("d", "10.0.0.4", noNamedPort)
	others := []runtime.Object{
		pod("e", ""), // no IP yet
		pod("f", "10.0.0.6", phase(corev1.PodFailed)), // finished
		pod("g", "10.0.0.7", labelled("app", "db")),   // not selected
	}
	http := func(port int32) corev1.EndpointPort {
		return corev1.EndpointPort{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}
	}
	metrics := corev1.EndpointPort{Name: "metrics", Port: 9100, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name        string
		svc         *corev1.Service
		wantSubsets []corev1.EndpointSubset
		wantLabels  map[string]string
	}{
		{
			name: "ready, unready and terminating pods with named ports",
			svc:  service(),
			wantSubsets: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{address(ready)}, Ports: []corev1.EndpointPort{http(8080)}},
				{NotReadyAddresses: []corev1.EndpointAddress{address(notReady)}, Ports: []corev1.EndpointPort{http(8081)}},
				{Addresses: []corev1.EndpointAddress{address(ready), address(metricsOnly)}, NotReadyAddresses: []corev1.EndpointAddress{address(notReady)}, Ports: []corev1.EndpointPort{metrics}},
			},
			wantLabels: map[string]string{"tier": "front", LabelEndpointsManagedBy: ControllerName},
		},
		{
			name: "publishNotReadyAddresses includes everything as ready",
			svc:  service(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			wantSubsets: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{address(ready), address(gone)}, Ports: []corev1.EndpointPort{http(8080)}},
				{Addresses: []corev1.EndpointAddress{address(notReady)}, Ports: []corev1.EndpointPort{http(8081)}},
				{Addresses: []corev1.EndpointAddress{address(ready), address(notReady), address(gone), address(metricsOnly)}, Ports: []corev1.EndpointPort{metrics}},
			},
			wantLabels: map[string]string{"tier": "front", LabelEndpointsManagedBy: ControllerName},
		},
		{
			name: "headless service without ports",
			svc: service(func(s *corev1.Service) {
				s.Spec.ClusterIP = corev1.ClusterIPNone
				s.Spec.Ports = nil
			}),
			wantSubsets: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{address(ready), address(metricsOnly)}, NotReadyAddresses: []corev1.EndpointAddress{address(notReady)}},
			},
			wantLabels: map[string]string{"tier": "front", corev1.IsHeadlessService: "", LabelEndpointsManagedBy: ControllerName},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := append([]runtime.Object{tt.svc, ready, notReady, gone, metricsOnly}, others...)
			f := newFixture(t, nil, objs...)
			if err := f.c.Sync(context.Background(), ns+"/web"); err != nil {
				t.Fatalf("Sync = %v; want nil", err)
			}
			eps := f.written("endpoints")
			if len(eps) != 1 {
				t.Fatalf("wrote %d Endpoints; want 1 (writes %v)", len(eps), f.writes())
			}
			got := eps[0].(*corev1.Endpoints)
			if diff := cmp.Diff(tt.wantSubsets, got.Subsets); diff != "" {
				t.Errorf("subsets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLabels, got.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncUnchangedIsNoOp(t *testing.T) {
	f := newFixture(t, nil, service(), pod("a", "10.0.0.1"), pod("b", "10.0.0.2", unready))
	ctx := context.Background()
	if err := f.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create endpoints web", "create endpointslices web-*"}, f.writes()); diff != "" {
		t.Errorf("first Sync writes (-want +got):\n%s", diff)
	}
	// Once the informers show what was written, the next sync writes nothing.
	f.observe(t)
	if err := f.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); len(got) != 0 {
		t.Errorf("second Sync writes = %v; want none", got)
	}
}

func TestSyncSlices(t *testing.T) {
	ready := pod("a", "10.0.0.1")
	notReady := pod("b", "10.0.0.2", unready)
	gone := pod("c", "10.0.0.3", terminatingPod)
	metricsOnly := pod("d", "10.0.0.4", noNamedPort)
	f := newFixture(t, nil, service(), ready, notReady, gone, metricsOnly, pod("e", ""))
	if err := f.c.Sync(context.Background(), ns+"/web"); err != nil {
		t.Fatalf("Sync = %v; want nil", err)
	}
	written := f.written("endpointslices")
	if len(written) != 2 {
		t.Fatalf("wrote %d slices; want 2 (one per port list)", len(written))
	}
	type epSummary struct {
		Pod                         string
		Ready, Serving, Terminating bool
		Node                        string
	}
	got := map[string][]epSummary{}
	for _, obj := range written {
		s := obj.(*discoveryv1.EndpointSlice)
		if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			t.Errorf("slice generateName, addressType = %q, %q; want web-, IPv4", s.GenerateName, s.AddressType)
		}
		wantLabels := map[string]string{"tier": "front", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName}
		if diff := cmp.Diff(wantLabels, s.Labels); diff != "" {
			t.Errorf("slice labels (-want +got):\n%s", diff)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || !ptr.Deref(s.OwnerReferences[0].Controller, false) {
			t.Errorf("slice ownerReferences = %+v; want a controller reference to the service", s.OwnerReferences)
		}
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", *p.Name, *p.Port))
		}
		key := strings.Join(ports, ",")
		for _, ep := range s.Endpoints {
			got[key] = append(got[key], epSummary{
				Pod: ep.TargetRef.Name, Ready: *ep.Conditions.Ready, Serving: *ep.Conditions.Serving,
				Terminating: *ep.Conditions.Terminating, Node: ptr.Deref(ep.NodeName, ""),
			})
		}
	}
	want := map[string][]epSummary{
		"http:8080,metrics:9100": {
			{Pod: "a", Ready: true, Serving: true, Node: "node-1"},
			{Pod: "b", Node: "node-1"},
			{Pod: "c", Serving: true, Terminating: true, Node: "node-1"},
		},
		"metrics:9100": {{Pod: "d", Ready: true, Serving: true, Node: "node-1"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slice endpoints by ports (-want +got):\n%s", diff)
	}
}

func TestSlicesSplitBeyondMax(t *testing.T) {
	var objs []runtime.Object
	objs = append(objs, service())
	for i := range 250 {
		objs = append(objs, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.%d.%d", i/200, i%200+1)))
	}
	f := newFixture(t, nil, objs...)
	ctx := context.Background()
	if err := f.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatalf("Sync #1 = %v; want nil", err)
	}
	var sizes []int
	for _, obj := range f.written("endpointslices") {
		sizes = append(sizes, len(obj.(*discoveryv1.EndpointSlice).Endpoints))
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("slice sizes (-want +got):\n%s", diff)
	}

	// Before the informer shows the new slices, nothing more is written.
	f.client.ClearActions()
	if err := f.c.Sync(ctx, ns+"/web"); !errors.Is(err, ErrSlicesNotObserved) {
		t.Errorf("Sync before the slices are observed = %v; want ErrSlicesNotObserved", err)
	}
	if got := f.writes(); len(got) != 0 {
		t.Errorf("writes before the slices are observed = %v; want none", got)
	}

	// Re-run the first sync's writes into the cache, then scale: a pod of
	// the first slice goes, six new pods come. They fill the partial slices.
	f2 := newFixture(t, nil, objs...)
	if err := f2.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	f2.observe(t)
	if err := f2.pods.Delete(objs[1]); err != nil {
		t.Fatal(err)
	}
	for i := 250; i < 256; i++ {
		if err := f2.pods.Add(pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.1.%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f2.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatalf("Sync after scaling = %v; want nil", err)
	}
	var sliceWrites []string
	for _, w := range f2.writes() {
		if strings.Contains(w, "endpointslices") {
			sliceWrites = append(sliceWrites, w)
		}
	}
	if diff := cmp.Diff([]string{"update endpointslices web-00001", "update endpointslices web-00003"}, sliceWrites); diff != "" {
		t.Errorf("slice writes after scaling (-want +got):\n%s", diff)
	}
	total := 0
	for _, obj := range f2.written("endpointslices") {
		n := len(obj.(*discoveryv1.EndpointSlice).Endpoints)
		if n > DefaultMaxEndpointsPerSlice {
			t.Errorf("slice %s holds %d endpoints; want at most %d", obj.(metav1.Object).GetName(), n, DefaultMaxEndpointsPerSlice)
		}
		total += n
	}
	if total != 100+55 {
		t.Errorf("updated slices hold %d endpoints; want 155 (the first refilled to 100, the last 55)", total)
	}
}

func TestSyncDeletesWhatItManages(t *testing.T) {
	managed := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: "ep-uid", Labels: map[string]string{LabelEndpointsManagedBy: ControllerName}}}
	userOwned := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: "ep-uid"}}
	slice := func(name string, managedBy string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: managedBy},
		}, AddressType: discoveryv1.AddressTypeIPv4}
	}
	tests := []struct {
		name string
		objs []runtime.Object
		want []string
	}{
		{
			name: "service deleted",
			objs: []runtime.Object{managed, slice("web-1", ControllerName), slice("web-2", "someone-else"), pod("a", "10.0.0.1")},
			want: []string{"delete endpoints web", "delete endpointslices web-1"},
		},
		{
			name: "service lost its selector",
			objs: []runtime.Object{service(func(s *corev1.Service) { s.Spec.Selector = nil }), managed, slice("web-1", ControllerName)},
			want: []string{"delete endpoints web", "delete endpointslices web-1"},
		},
		{
			name: "service became ExternalName",
			objs: []runtime.Object{service(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }), managed},
			want: []string{"delete endpoints web"},
		},
		{
			name: "endpoints of a service without selector belong to the user",
			objs: []runtime.Object{service(func(s *corev1.Service) { s.Spec.Selector = nil }), userOwned},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, tt.objs...)
			if err := f.c.Sync(context.Background(), ns+"/web"); err != nil {
				t.Fatalf("Sync = %v; want nil", err)
			}
			if diff := cmp.Diff(tt.want, f.writes()); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			for _, a := range f.client.Actions() {
				if d, ok := a.(k8stesting.DeleteAction); ok {
					if p := d.GetDeleteOptions().Preconditions; p == nil || p.UID == nil {
						t.Errorf("delete %s carries no UID precondition", d.GetName())
					}
				}
			}
		})
	}
}

func TestSliceOfOldServiceIsReplaced(t *testing.T) {
	old := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "web-old", UID: "uid-old",
			Labels:          map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "previous-svc-uid"}},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	f := newFixture(t, nil, service(), pod("a", "10.0.0.1"), old)
	if err := f.c.Sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	want := []string{"create endpoints web", "create endpointslices web-*", "delete endpointslices web-old"}
	if diff := cmp.Diff(want, f.writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestPlaceholderSlice(t *testing.T) {
	f := newFixture(t, nil, service())
	ctx := context.Background()
	if err := f.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	written := f.written("endpointslices")
	if len(written) != 1 || len(written[0].(*discoveryv1.EndpointSlice).Endpoints) != 0 {
		t.Fatalf("slices written for a service without pods = %v; want one empty placeholder", f.writes())
	}
	f.observe(t)
	if err := f.c.Sync(ctx, ns+"/web"); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		if strings.Contains(w, "endpointslices") {
			t.Errorf("second sync wrote %q; want the placeholder kept", w)
		}
	}
}

func TestPlanSlices(t *testing.T) {
	svc := service()
	labels := sliceLabels(svc)
	owner := metav1.NewControllerRef(svc, serviceKind)
	endpoint := func(name string) discoveryv1.Endpoint {
		return podEndpoint(pod(name, "10.1.0."+strings.TrimPrefix(name, "p")), svc, []string{"10.1.0." + strings.TrimPrefix(name, "p")})
	}
	ports := slicePorts(svc, pod("x", "10.1.0.99"))
	existing := func(name string, eps ...string) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name), Labels: labels, OwnerReferences: []metav1.OwnerReference{*owner}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       ports,
		}
		for _, e := range eps {
			s.Endpoints = append(s.Endpoints, endpoint(e))
		}
		return s
	}
	group := func(eps ...string) map[string]*endpointGroup {
		g := &endpointGroup{addressType: discoveryv1.AddressTypeIPv4, ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
		for _, e := range eps {
			ep := endpoint(e)
			g.endpoints[endpointKey(&ep)] = ep
		}
		return map[string]*endpointGroup{groupKey(discoveryv1.AddressTypeIPv4, ports): g}
	}
	summary := func(plan slicePlan) []string {
		var out []string
		for _, s := range plan.create {
			out = append(out, fmt.Sprintf("create %d", len(s.Endpoints)))
		}
		for _, s := range plan.update {
			var names []string
			for _, e := range s.Endpoints {
				names = append(names, e.TargetRef.Name)
			}
			out = append(out, "update "+s.Name+" "+strings.Join(names, ","))
		}
		for _, s := range plan.delete {
			out = append(out, "delete "+s.Name)
		}
		return out
	}
	tests := []struct {
		name     string
		existing []*discoveryv1.EndpointSlice
		groups   map[string]*endpointGroup
		want     []string
	}{
		{name: "unchanged", existing: []*discoveryv1.EndpointSlice{existing("s1", "p1", "p2")}, groups: group("p1", "p2")},
		{name: "new endpoint fills the slice with room", existing: []*discoveryv1.EndpointSlice{existing("s1", "p1", "p2", "p3"), existing("s2", "p4")},
			groups: group("p1", "p2", "p3", "p4", "p5"), want: []string{"update s2 p4,p5"}},
		{name: "full slices get a new one", existing: []*discoveryv1.EndpointSlice{existing("s1", "p1", "p2", "p3")},
			groups: group("p1", "p2", "p3", "p4"), want: []string{"create 1"}},
		{name: "emptied slice is deleted", existing: []*discoveryv1.EndpointSlice{existing("s1", "p1", "p2"), existing("s2", "p3")},
			groups: group("p1", "p2"), want: []string{"delete s2"}},
		{name: "removed endpoint leaves the others in place", existing: []*discoveryv1.EndpointSlice{existing("s1", "p1", "p2", "p3"), existing("s2", "p4", "p5")},
			groups: group("p1", "p3", "p4", "p5"), want: []string{"update s1 p1,p3"}},
		{name: "slice of old ports is reused", existing: func() []*discoveryv1.EndpointSlice {
			s := existing("s1", "p1")
			s.Ports = nil
			return []*discoveryv1.EndpointSlice{s}
		}(), groups: group("p1"), want: []string{"update s1 p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(planSlices(svc, tt.existing, tt.groups, 3))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("planSlices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod("a", "10.0.0.1", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP})
		p.Spec.InitContainers = []corev1.Container{
			{Name: "sidecar", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}},
			{Name: "init", Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 7000}}},
		}
	})
	tests := []struct {
		name   string
		port   corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{name: "number", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8080)}, want: 8080, wantOK: true},
		{name: "unset number is the service port", port: corev1.ServicePort{Port: 80}, want: 80, wantOK: true},
		{name: "name", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, want: 8080, wantOK: true},
		{name: "name with another protocol", port: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}},
		{name: "name and protocol", port: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, want: 53, wantOK: true},
		{name: "sidecar port", port: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("proxy")}, want: 15001, wantOK: true},
		{name: "plain init container port", port: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("setup")}},
		{name: "missing name", port: corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("grpc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := findPort(p, &tt.port)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("findPort(%v) = %d, %t; want %d, %t", tt.port.TargetPort, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	subsets := []corev1.EndpointSubset{{}, {}}
	for i := range 900 {
		subsets[0].Addresses = append(subsets[0].Addresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250)})
	}
	for i := range 300 {
		subsets[1].NotReadyAddresses = append(subsets[1].NotReadyAddresses, corev1.EndpointAddress{IP: fmt.Sprintf("10.1.%d.%d", i/250, i%250)})
	}
	if !truncate(subsets) {
		t.Fatal("truncate = false; want true")
	}
	if got := len(subsets[0].Addresses) + len(subsets[1].NotReadyAddresses); got != MaxEndpointsCapacity {
		t.Errorf("addresses after truncate = %d; want %d", got, MaxEndpointsCapacity)
	}
	if got := len(subsets[0].Addresses); got != 900 {
		t.Errorf("ready addresses after truncate = %d; want all 900 kept", got)
	}
}

func TestPodEventsEnqueueSelectingServices(t *testing.T) {
	other := service(func(s *corev1.Service) {
		s.Name = "db"
		s.Spec.Selector = map[string]string{"app": "db"}
	})
	noSelector := service(func(s *corev1.Service) {
		s.Name = "external"
		s.Spec.Selector = nil
	})
	tests := []struct {
		name     string
		old, cur *corev1.Pod
		want     []string
	}{
		{name: "readiness change", old: pod("a", "10.0.0.1", unready), cur: pod("a", "10.0.0.1", func(p *corev1.Pod) { p.ResourceVersion = "2" }), want: []string{"demo/web"}},
		{name: "irrelevant change", old: pod("a", "10.0.0.1"), cur: pod("a", "10.0.0.1", func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Annotations = map[string]string{"x": "y"} })},
		{name: "relabel moves the pod", old: pod("a", "10.0.0.1"), cur: pod("a", "10.0.0.1", labelled("app", "db"), func(p *corev1.Pod) { p.ResourceVersion = "2" }), want: []string{"demo/db", "demo/web"}},
		{name: "resync", old: pod("a", "10.0.0.1"), cur: pod("a", "10.0.0.1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, service(), other, noSelector)
			f.c.updatePod(tt.old, tt.cur)
			var got []string
			for f.c.queue.Len() > 0 {
				k, _ := f.c.queue.Get()
				got = append(got, k)
				f.c.queue.Done(k)
			}
			if diff := cmp.Diff(tt.want, sortedStrings(got)); diff != "" {
				t.Errorf("enqueued (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestRunWritesEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewSimpleClientset(service(), pod("a", "10.0.0.1"))
	factory := informers.NewSharedInformerFactory(client, 0)
	core := factory.Core().V1()
	c := NewController(client, core.Services(), core.Pods(), core.Endpoints(), factory.Discovery().V1().EndpointSlices(), record.NewFakeRecorder(100))
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 1)
	}()
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) > 0, nil
	})
	if err != nil {
		t.Errorf("waiting for the Endpoints: %v", err)
	}
	cancel()
	<-done
}
