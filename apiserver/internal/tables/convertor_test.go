package tables

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// samples holds an empty object of every resource with a dedicated column set.
var samples = map[schema.GroupResource]runtime.Object{
	{Resource: "pods"}:                                                    &corev1.Pod{},
	{Resource: "namespaces"}:                                              &corev1.Namespace{},
	{Resource: "nodes"}:                                                   &corev1.Node{},
	{Resource: "services"}:                                                &corev1.Service{},
	{Resource: "endpoints"}:                                               &corev1.Endpoints{},
	{Resource: "configmaps"}:                                              &corev1.ConfigMap{},
	{Resource: "secrets"}:                                                 &corev1.Secret{},
	{Resource: "serviceaccounts"}:                                         &corev1.ServiceAccount{},
	{Resource: "events"}:                                                  &corev1.Event{},
	{Group: "events.k8s.io", Resource: "events"}:                          &eventsv1.Event{},
	{Group: "apps", Resource: "deployments"}:                              &appsv1.Deployment{},
	{Group: "apps", Resource: "replicasets"}:                              &appsv1.ReplicaSet{},
	{Group: "apps", Resource: "daemonsets"}:                               &appsv1.DaemonSet{},
	{Group: "apps", Resource: "statefulsets"}:                             &appsv1.StatefulSet{},
	{Group: "apps", Resource: "controllerrevisions"}:                      &appsv1.ControllerRevision{},
	{Group: "batch", Resource: "jobs"}:                                    &batchv1.Job{},
	{Group: "batch", Resource: "cronjobs"}:                                &batchv1.CronJob{},
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:               &discoveryv1.EndpointSlice{},
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:        &rbacv1.RoleBinding{},
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}: &rbacv1.ClusterRoleBinding{},
	{Group: "coordination.k8s.io", Resource: "leases"}:                    &coordinationv1.Lease{},
}

// TestColumnSets pins every column set to what a Kubernetes 1.32 apiserver serves (from
// pkg/printers/internalversion): name:type, with wide (priority 1) columns marked by a "+".
func TestColumnSets(t *testing.T) {
	tests := []struct {
		gr   schema.GroupResource
		want string
	}{
		{schema.GroupResource{Resource: "pods"}, "Name:string Ready:string Status:string Restarts:string Age:string +IP:string +Node:string +Nominated Node:string +Readiness Gates:string"},
		{schema.GroupResource{Resource: "namespaces"}, "Name:string Status:string Age:string"},
		{schema.GroupResource{Resource: "nodes"}, "Name:string Status:string Roles:string Age:string Version:string +Internal-IP:string +External-IP:string +OS-Image:string +Kernel-Version:string +Container-Runtime:string"},
		{schema.GroupResource{Resource: "services"}, "Name:string Type:string Cluster-IP:string External-IP:string Port(s):string Age:string +Selector:string"},
		{schema.GroupResource{Resource: "endpoints"}, "Name:string Endpoints:string Age:string"},
		{schema.GroupResource{Resource: "configmaps"}, "Name:string Data:string Age:string"},
		{schema.GroupResource{Resource: "secrets"}, "Name:string Type:string Data:string Age:string"},
		{schema.GroupResource{Resource: "serviceaccounts"}, "Name:string Secrets:string Age:string"},
		{schema.GroupResource{Resource: "events"}, "Last Seen:string Type:string Reason:string Object:string +Subobject:string +Source:string Message:string +First Seen:string +Count:string +Name:string"},
		{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "Last Seen:string Type:string Reason:string Object:string +Subobject:string +Source:string Message:string +First Seen:string +Count:string +Name:string"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "Name:string Ready:string Up-to-date:string Available:string Age:string +Containers:string +Images:string +Selector:string"},
		{schema.GroupResource{Group: "apps", Resource: "replicasets"}, "Name:string Desired:integer Current:integer Ready:integer Age:string +Containers:string +Images:string +Selector:string"},
		{schema.GroupResource{Group: "apps", Resource: "daemonsets"}, "Name:string Desired:integer Current:integer Ready:integer Up-to-date:integer Available:integer Node Selector:string Age:string +Containers:string +Images:string +Selector:string"},
		{schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "Name:string Ready:string Age:string +Containers:string +Images:string"},
		{schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}, "Name:string Controller:string Revision:string Age:string"},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, "Name:string Status:string Completions:string Duration:string Age:string +Containers:string +Images:string +Selector:string"},
		{schema.GroupResource{Group: "batch", Resource: "cronjobs"}, "Name:string Schedule:string Timezone:string Suspend:boolean Active:integer Last Schedule:string Age:string +Containers:string +Images:string +Selector:string"},
		{schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "Name:string AddressType:string Ports:string Endpoints:string Age:string"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"}, "Name:string Created At:date"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "Name:string Created At:date"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}, "Name:string Role:string Age:string +Users:string +Groups:string +ServiceAccounts:string"},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, "Name:string Role:string Age:string +Users:string +Groups:string +ServiceAccounts:string"},
		{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "Name:string Holder:string Age:string"},
		{schema.GroupResource{Group: "example.com", Resource: "widgets"}, "Name:string Created At:date"},
	}
	for _, tt := range tests {
		t.Run(tt.gr.String(), func(t *testing.T) {
			var parts []string
			for _, c := range For(tt.gr).columns {
				p := c.Name + ":" + c.Type
				if c.Priority == 1 {
					p = "+" + p
				} else if c.Priority != 0 {
					t.Errorf("column %q has priority %d; want 0 or 1", c.Name, c.Priority)
				}
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
				if (c.Format == "name") != (c.Name == "Name") {
					t.Errorf("column %q has format %q; only Name has format \"name\"", c.Name, c.Format)
				}
				parts = append(parts, p)
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("For(%v) columns = %s; want %s", tt.gr, got, tt.want)
			}
		})
	}
}

// TestEveryConvertorRendersAllCells converts an empty object of every resource and checks that a
// row has exactly one cell per column, so that no column set and row function drift apart.
func TestEveryConvertorRendersAllCells(t *testing.T) {
	for gr := range convertors {
		if _, ok := samples[gr]; !ok {
			t.Errorf("no sample object for %v", gr)
		}
	}
	for gr, obj := range samples {
		t.Run(gr.String(), func(t *testing.T) {
			if For(gr) == defaultConvertor {
				t.Fatalf("For(%v) is the default convertor", gr)
			}
			row := convertOne(t, gr, obj)
			for i, c := range row.Cells {
				switch c.(type) {
				case string, int64:
				default:
					t.Errorf("cell %d is a %T; want string or int64", i, c)
				}
			}
		})
	}
}

func TestDefaultConvertor(t *testing.T) {
	widget := &unstructured.Unstructured{}
	widget.SetAPIVersion("example.com/v1")
	widget.SetKind("Widget")
	widget.SetName("w1")
	widget.SetCreationTimestamp(metav1.NewTime(time.Date(2024, 2, 29, 23, 30, 0, 0, time.FixedZone("CET", 3600))))

	table, err := For(schema.GroupResource{Group: "example.com", Resource: "widgets"}).Convert(widget, now, Options{})
	if err != nil {
		t.Fatalf("Convert(widget) error: %v", err)
	}
	want := []any{"w1", "2024-02-29T22:30:00Z"}
	if diff := cmp.Diff(want, table.Rows[0].Cells); diff != "" {
		t.Errorf("Convert(widget) cells mismatch (-want +got):\n%s", diff)
	}

	_, err = defaultConvertor.Convert(&metav1.Status{}, now, Options{})
	if !errors.Is(err, ErrNoMetadata) {
		t.Errorf("Convert(Status) error = %v; want ErrNoMetadata", err)
	}
}

func TestConvertIncludeObject(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "prod", Labels: map[string]string{"app": "web"}, ResourceVersion: "42",
	}}
	tests := []struct {
		include metav1.IncludeObjectPolicy
		check   func(t *testing.T, obj runtime.Object)
	}{
		{include: metav1.IncludeNone, check: func(t *testing.T, obj runtime.Object) {
			if obj != nil {
				t.Errorf("row object = %T; want none", obj)
			}
		}},
		{include: "", check: checkPartial},
		{include: metav1.IncludeMetadata, check: checkPartial},
		{include: metav1.IncludeObject, check: func(t *testing.T, obj runtime.Object) {
			got, ok := obj.(*corev1.Pod)
			if !ok {
				t.Fatalf("row object = %T; want *corev1.Pod", obj)
			}
			if gvk := got.GroupVersionKind(); gvk != corev1.SchemeGroupVersion.WithKind("Pod") {
				t.Errorf("row object kind = %v; want v1 Pod", gvk)
			}
			if got.Name != "web" || got.Namespace != "prod" {
				t.Errorf("row object = %s/%s; want prod/web", got.Namespace, got.Name)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.include), func(t *testing.T) {
			table, err := For(podsGR).Convert(pod, now, Options{IncludeObject: tt.include})
			if err != nil {
				t.Fatalf("Convert(pod, %q) error: %v", tt.include, err)
			}
			if table.Rows[0].Object.Raw != nil {
				t.Errorf("row object has raw bytes; want a typed object")
			}
			tt.check(t, table.Rows[0].Object.Object)
		})
	}
	if !pod.GroupVersionKind().Empty() {
		t.Errorf("Convert modified the input pod's TypeMeta to %v", pod.GroupVersionKind())
	}
}

func checkPartial(t *testing.T, obj runtime.Object) {
	t.Helper()
	p, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		t.Fatalf("row object = %T; want *metav1.PartialObjectMetadata", obj)
	}
	if p.APIVersion != "meta.k8s.io/v1" || p.Kind != "PartialObjectMetadata" {
		t.Errorf("row object type = %s %s; want meta.k8s.io/v1 PartialObjectMetadata", p.APIVersion, p.Kind)
	}
	want := metav1.ObjectMeta{Name: "web", Namespace: "prod", Labels: map[string]string{"app": "web"}, ResourceVersion: "42"}
	if diff := cmp.Diff(want, p.ObjectMeta); diff != "" {
		t.Errorf("row object metadata mismatch (-want +got):\n%s", diff)
	}
}

func TestConvertKeepsExistingTypeMeta(t *testing.T) {
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: objMeta("web")}
	table, err := For(podsGR).Convert(pod, now, Options{IncludeObject: metav1.IncludeObject})
	if err != nil {
		t.Fatalf("Convert(pod) error: %v", err)
	}
	if got := table.Rows[0].Object.Object; got != pod {
		t.Errorf("row object = %p; want the input %p (no copy needed)", got, pod)
	}
}

func TestConvertErrors(t *testing.T) {
	widget := &unstructured.Unstructured{}
	widget.SetAPIVersion("example.com/v1")
	widget.SetKind("Widget")
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		opts Options
		want error
	}{
		{name: "bad includeObject", gr: podsGR, obj: &corev1.Pod{}, opts: Options{IncludeObject: "Everything"}, want: ErrInvalidIncludeObject},
		{name: "nil object", gr: podsGR, obj: nil, want: ErrUnexpectedType},
		{name: "wrong type", gr: podsGR, obj: &corev1.Service{}, want: ErrUnexpectedType},
		{name: "wrong type in list", gr: podsGR, obj: &corev1.ServiceList{Items: []corev1.Service{{}}}, want: ErrUnexpectedType},
		{name: "unstructured of another kind", gr: podsGR, obj: widget, want: ErrUnexpectedType},
		{name: "metadata-less object", gr: schema.GroupResource{Resource: "things"}, obj: &metav1.Status{}, want: ErrNoMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := For(tt.gr).Convert(tt.obj, now, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("For(%v).Convert(%T) error = %v; want %v", tt.gr, tt.obj, err, tt.want)
			}
		})
	}
}

func TestConvertLists(t *testing.T) {
	unstructuredPod := &unstructured.Unstructured{}
	unstructuredPod.SetAPIVersion("v1")
	unstructuredPod.SetKind("Pod")
	unstructuredPod.SetName("u")
	if err := unstructured.SetNestedField(unstructuredPod.Object, "Running", "status", "phase"); err != nil {
		t.Fatal(err)
	}
	widgets := &unstructured.UnstructuredList{Items: []unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w1"}}},
		{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w2"}}},
	}}
	widgets.SetAPIVersion("example.com/v1")
	widgets.SetKind("WidgetList")

	tests := []struct {
		name  string
		gr    schema.GroupResource
		obj   runtime.Object
		names []string
	}{
		{name: "empty pod list", gr: podsGR, obj: &corev1.PodList{}, names: []string{}},
		{
			name:  "pod list keeps order",
			gr:    podsGR,
			obj:   &corev1.PodList{Items: []corev1.Pod{{ObjectMeta: objMeta("b")}, {ObjectMeta: objMeta("a")}}},
			names: []string{"b", "a"},
		},
		{name: "single pod", gr: podsGR, obj: &corev1.Pod{ObjectMeta: objMeta("x")}, names: []string{"x"}},
		{name: "unstructured pod", gr: podsGR, obj: unstructuredPod, names: []string{"u"}},
		{name: "unstructured list of an unknown resource", gr: schema.GroupResource{Group: "example.com", Resource: "widgets"}, obj: widgets, names: []string{"w1", "w2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := For(tt.gr).Convert(tt.obj, now, Options{})
			if err != nil {
				t.Fatalf("Convert(%T) error: %v", tt.obj, err)
			}
			if table.Rows == nil {
				t.Errorf("Convert(%T) rows are nil; want an empty slice (encoded as [])", tt.obj)
			}
			if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" {
				t.Errorf("Convert(%T) type = %s %s; want meta.k8s.io/v1 Table", tt.obj, table.APIVersion, table.Kind)
			}
			if len(table.ColumnDefinitions) == 0 {
				t.Errorf("Convert(%T) has no column definitions", tt.obj)
			}
			names := []string{}
			for _, r := range table.Rows {
				names = append(names, r.Cells[0].(string))
				if _, ok := r.Object.Object.(*metav1.PartialObjectMetadata); !ok {
					t.Errorf("row %v object = %T; want PartialObjectMetadata", r.Cells[0], r.Object.Object)
				}
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("Convert(%T) row names mismatch (-want +got):\n%s", tt.obj, diff)
			}
		})
	}
}

func TestConvertUnstructuredPodStatus(t *testing.T) {
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "u"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "app"}}},
		"status": map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{
			"name": "app", "ready": true, "restartCount": int64(0), "state": map[string]any{"running": map[string]any{}},
		}}},
	}}
	checkCells(t, podsGR, pod, map[string]any{"Ready": "1/1", "Status": "Running"})
}

func TestConvertNoHeaders(t *testing.T) {
	table, err := For(podsGR).Convert(&corev1.Pod{ObjectMeta: objMeta("web")}, now, Options{NoHeaders: true})
	if err != nil {
		t.Fatalf("Convert(pod) error: %v", err)
	}
	if table.ColumnDefinitions != nil {
		t.Errorf("Convert(pod, NoHeaders) columns = %v; want none", table.ColumnDefinitions)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(podConvertor.columns) {
		t.Errorf("Convert(pod, NoHeaders) rows = %v; want one full row", table.Rows)
	}
}

func TestConvertReturnsOwnColumns(t *testing.T) {
	table, err := For(podsGR).Convert(&corev1.PodList{}, now, Options{})
	if err != nil {
		t.Fatalf("Convert(PodList) error: %v", err)
	}
	table.ColumnDefinitions[0].Name = "Mutated"
	if got := For(podsGR).columns[0].Name; got != "Name" {
		t.Errorf("after mutating a returned Table, the pods convertor's first column = %q; want Name", got)
	}
}
