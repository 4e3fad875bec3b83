package patch

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestNew(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Errorf("New(nil) = nil error; want an error")
	}
	m, err := New(scheme.Scheme)
	if err != nil {
		t.Fatalf("New(scheme.Scheme) = %v", err)
	}
	// Every kind of the served groups has a schema, and so does the Scale of the scale
	// subresources, which client-go's apply-configuration schema lacks. The exceptions are
	// never stored: pods/binding is create-only and records no managedFields on the pod.
	noSchema := map[string]bool{"Binding": true, "PodStatusResult": true, "RangeAllocation": true}
	for _, gv := range []schema.GroupVersion{
		{Version: "v1"}, {Group: "apps", Version: "v1"}, {Group: "batch", Version: "v1"},
		{Group: "autoscaling", Version: "v1"}, {Group: "policy", Version: "v1"}, {Group: "discovery.k8s.io", Version: "v1"},
		{Group: "rbac.authorization.k8s.io", Version: "v1"}, {Group: "coordination.k8s.io", Version: "v1"},
	} {
		for kind := range scheme.Scheme.KnownTypes(gv) {
			example, _ := scheme.Scheme.New(gv.WithKind(kind))
			if _, ok := example.(metav1.Object); !ok || noSchema[kind] {
				continue
			}
			if !m.converter.hasSchema(example) {
				t.Errorf("no schema for %v (%s)", gv.WithKind(kind), openAPIName(example))
			}
		}
	}
}

// editedLive returns an obj function for TestUpdate: a copy of the live
// Deployment, changed by edit.
func editedLive(edit func(d *appsv1.Deployment)) func(live runtime.Object) runtime.Object {
	return func(live runtime.Object) runtime.Object {
		d := live.DeepCopyObject().(*appsv1.Deployment)
		edit(d)
		return d
	}
}

func TestUpdate(t *testing.T) {
	m := newTestManager(t)
	csa := func(t *testing.T) runtime.Object {
		return created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
	}
	tests := []struct {
		name        string
		live        func(t *testing.T) runtime.Object // nil: create
		obj         func(live runtime.Object) runtime.Object
		opts        Options
		wantEntries string
		check       func(t *testing.T, got runtime.Object)
	}{
		{
			name:        "create records the creator's fields",
			obj:         func(runtime.Object) runtime.Object { return newDeployment() },
			opts:        Options{FieldManager: "kubectl-create"},
			wantEntries: "kubectl-create/Update@apps/v1",
			check: func(t *testing.T, got runtime.Object) {
				if !owns(t, got, "kubectl-create", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:replicas") ||
					!owns(t, got, "kubectl-create", metav1.ManagedFieldsOperationUpdate, "f:metadata", "f:annotations", "f:"+lastApplied) {
					t.Errorf("kubectl-create fields = %s", fieldsOf(got, "kubectl-create", metav1.ManagedFieldsOperationUpdate))
				}
				if e := got.(metav1.Object).GetManagedFields()[0]; e.Time == nil || e.FieldsType != "FieldsV1" {
					t.Errorf("entry = %+v; want a time and FieldsV1", e)
				}
			},
		},
		{
			name: "an update by another manager takes the changed field",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
			}),
			opts:        Options{FieldManager: "kubectl-edit"},
			wantEntries: "kubectl-client-side-apply/Update@apps/v1 kubectl-edit/Update@apps/v1",
			check: func(t *testing.T, got runtime.Object) {
				image := []string{"f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"nginx"}`, "f:image"}
				if !owns(t, got, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, image...) ||
					owns(t, got, "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, image...) {
					t.Errorf("image owned by kubectl-edit %v, kubectl-client-side-apply %v; want only kubectl-edit",
						owns(t, got, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, image...),
						owns(t, got, "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, image...))
				}
			},
		},
		{
			name:        "an update that changes nothing records nothing",
			live:        csa,
			obj:         func(live runtime.Object) runtime.Object { return live.DeepCopyObject() },
			opts:        Options{FieldManager: "kubectl-replace"},
			wantEntries: "kubectl-client-side-apply/Update@apps/v1",
		},
		{
			name: "a status update is recorded for the status subresource",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.Status.Replicas, d.Status.ObservedGeneration = 3, 1
				d.Spec.Paused = true // reset by the status strategy: never owned
			}),
			opts:        Options{FieldManager: "kube-controller-manager", Subresource: "status"},
			wantEntries: "kube-controller-manager/Update/status@apps/v1 kubectl-client-side-apply/Update@apps/v1",
			check: func(t *testing.T, got runtime.Object) {
				if !owns(t, got, "kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "f:status", "f:replicas") ||
					owns(t, got, "kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "f:spec") {
					t.Errorf("status manager fields = %s; want status only", fieldsOf(got, "kube-controller-manager", metav1.ManagedFieldsOperationUpdate))
				}
			},
		},
		{
			name: "spec changes on the main resource are recorded, status changes are not",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.Status.Replicas = 3
				d.Spec.Paused = true
			}),
			opts:        Options{FieldManager: "kubectl-edit"},
			wantEntries: "kubectl-client-side-apply/Update@apps/v1 kubectl-edit/Update@apps/v1",
			check: func(t *testing.T, got runtime.Object) {
				if !owns(t, got, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:paused") ||
					owns(t, got, "kubectl-edit", metav1.ManagedFieldsOperationUpdate, "f:status") {
					t.Errorf("kubectl-edit fields = %s; want spec.paused only", fieldsOf(got, "kubectl-edit", metav1.ManagedFieldsOperationUpdate))
				}
			},
		},
		{
			name: "an empty managedFields list resets them",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.ManagedFields = []metav1.ManagedFieldsEntry{}
				d.Spec.Paused = true
			}),
			opts:        Options{FieldManager: "kubectl-edit"},
			wantEntries: "",
		},
		{
			name: "managedFields sent by the client replace the live ones",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.ManagedFields[0].Manager = "renamed"
			}),
			opts:        Options{FieldManager: "kubectl-replace"},
			wantEntries: "renamed/Update@apps/v1",
		},
		{
			name: "managedFields sent to a subresource are ignored",
			live: csa,
			obj: editedLive(func(d *appsv1.Deployment) {
				d.ManagedFields[0].Manager = "renamed"
			}),
			opts:        Options{FieldManager: "kube-controller-manager", Subresource: "status"},
			wantEntries: "kubectl-client-side-apply/Update@apps/v1",
		},
		{
			name:        "an empty manager name is recorded as unknown",
			obj:         func(runtime.Object) runtime.Object { return newPod() },
			wantEntries: "unknown/Update@v1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var live runtime.Object
			if tt.live != nil {
				live = tt.live(t)
			}
			obj := tt.obj(live)
			gvk := deploymentGVK
			if _, ok := obj.(*corev1.Pod); ok {
				gvk = podGVK
			}
			got, err := m.Update(live, obj, gvk, tt.opts)
			if err != nil {
				t.Fatalf("Update() = %v", err)
			}
			if got != obj {
				t.Errorf("Update() returned a new object; want obj updated in place")
			}
			if e := strings.Join(entries(got), " "); e != tt.wantEntries {
				t.Errorf("Update() managedFields = %q; want %q", e, tt.wantEntries)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestUpdateErrors(t *testing.T) {
	m := newTestManager(t)
	tests := []struct {
		name     string
		live     runtime.Object
		obj      runtime.Object
		gvk      schema.GroupVersionKind
		opts     Options
		wantIs   error
		wantCode int32
		wantMsg  string
	}{
		{name: "unknown kind", obj: newPod(), gvk: schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, wantIs: ErrUnknownKind},
		{name: "object of another kind", obj: newPod(), gvk: deploymentGVK, wantIs: ErrWrongType},
		{name: "live of another kind", live: newPod(), obj: newDeployment(), gvk: deploymentGVK, wantIs: ErrWrongType},
		{name: "nil object", gvk: deploymentGVK, wantIs: ErrWrongType},
		{
			name: "manager name too long", obj: newPod(), gvk: podGVK, opts: Options{FieldManager: strings.Repeat("m", 129)},
			wantCode: http.StatusUnprocessableEntity, wantMsg: `CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes`,
		},
		{
			name: "unsupported fieldValidation", live: newPod(), obj: newPod(), gvk: podGVK, opts: Options{FieldValidation: "Loud"},
			wantCode: http.StatusUnprocessableEntity, wantMsg: `UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := m.Update(tt.live, tt.obj, tt.gvk, tt.opts)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("Update() = %v; want %v", err, tt.wantIs)
				}
				return
			}
			st := statusOf(t, err)
			if st.Code != tt.wantCode || st.Message != tt.wantMsg {
				t.Errorf("Update() = %d %q; want %d %q", st.Code, st.Message, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestFieldManagerFromUserAgent(t *testing.T) {
	tests := []struct {
		name, userAgent, want string
	}{
		{name: "kubectl", userAgent: "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd", want: "kubectl"},
		{name: "client-go default", userAgent: "main/v0.0.0 (linux/amd64) kubernetes/$Format", want: "main"},
		{name: "no slash", userAgent: "curl", want: "curl"},
		{name: "empty", userAgent: "", want: ""},
		{name: "unprintable characters dropped", userAgent: "a\x00b\tc/1", want: "abc"},
		{name: "cut to 128 bytes", userAgent: strings.Repeat("é", 100), want: strings.Repeat("é", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FieldManagerFromUserAgent(tt.userAgent); got != tt.want {
				t.Errorf("FieldManagerFromUserAgent(%q) = %q; want %q", tt.userAgent, got, tt.want)
			}
		})
	}
}
