package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

var (
	deploymentGVK = appsv1.SchemeGroupVersion.WithKind("Deployment")
	podGVK        = corev1.SchemeGroupVersion.WithKind("Pod")
	scaleGVK      = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

	deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}
	pods        = schema.GroupResource{Resource: "pods"}
)

var (
	sharedOnce    sync.Once
	sharedManager *Manager
	sharedErr     error
)

// newTestManager returns a Manager over client-go's scheme, shared by all tests (it is safe
// for concurrent use and building the schema takes a while).
func newTestManager(t testing.TB) *Manager {
	t.Helper()
	sharedOnce.Do(func() { sharedManager, sharedErr = New(scheme.Scheme) })
	if sharedErr != nil {
		t.Fatalf("New(scheme.Scheme) = %v", sharedErr)
	}
	return sharedManager
}

// deploymentConfig is the manifest the tests kubectl apply, in the JSON form kubectl sends and
// keeps in the last-applied annotation.
const deploymentConfig = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"labels":{"app":"web"},"name":"web","namespace":"default"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.25","name":"nginx","ports":[{"containerPort":80}]}]}}}}`

// newDeployment returns the Deployment of deploymentConfig as the registry would store it
// after kubectl apply created it (with the last-applied annotation), before managedFields.
func newDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "web",
			Namespace:         "default",
			UID:               "0b3c5e1a-0000-4000-8000-000000000001",
			ResourceVersion:   "10",
			Generation:        1,
			CreationTimestamp: metav1.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			Labels:            map[string]string{"app": "web"},
			Annotations: map[string]string{
				"kubectl.kubernetes.io/last-applied-configuration": deploymentConfig + "\n",
			},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "nginx",
					Image: "nginx:1.25",
					Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				}}},
			},
		},
	}
}

// newPod returns a running Pod as the registry would store it, before managedFields.
func newPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              "web-0",
			Namespace:         "default",
			UID:               "0b3c5e1a-0000-4000-8000-000000000002",
			ResourceVersion:   "20",
			CreationTimestamp: metav1.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			Labels:            map[string]string{"app": "web"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.25"}},
			NodeName:   "node-1",
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// created runs obj through Update as a create by manager, as the registry does on POST.
func created[T runtime.Object](t testing.TB, obj T, gvk schema.GroupVersionKind, manager string) T {
	t.Helper()
	out, err := newTestManager(t).Update(nil, obj, gvk, Options{FieldManager: manager})
	if err != nil {
		t.Fatalf("Update(nil, %T) = %v", obj, err)
	}
	return out.(T)
}

// mustPatch runs Patch and fails the test on error.
func mustPatch(t testing.TB, live runtime.Object, gvk schema.GroupVersionKind, pt types.PatchType, body string, opts Options) Result {
	t.Helper()
	res, err := newTestManager(t).Patch(live, gvk, pt, []byte(body), opts)
	if err != nil {
		t.Fatalf("Patch(%s, %s) = %v", pt, body, err)
	}
	return res
}

// entries summarises the managedFields entries of obj, sorted, as
// manager/operation[/subresource]@apiVersion.
func entries(obj runtime.Object) []string {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range accessor.GetManagedFields() {
		s := e.Manager + "/" + string(e.Operation)
		if e.Subresource != "" {
			s += "/" + e.Subresource
		}
		out = append(out, s+"@"+e.APIVersion)
	}
	sort.Strings(out)
	return out
}

// fieldsOf returns the fieldsV1 JSON of manager's entry with operation op, or "" when absent.
func fieldsOf(obj runtime.Object, manager string, op metav1.ManagedFieldsOperationType) string {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err.Error()
	}
	for _, e := range accessor.GetManagedFields() {
		if e.Manager == manager && e.Operation == op && e.FieldsV1 != nil {
			return string(e.FieldsV1.Raw)
		}
	}
	return ""
}

// owns reports whether manager's entry with operation op owns the field at fieldsPath, a
// sequence of fieldsV1 keys such as "f:spec", "f:replicas".
func owns(t testing.TB, obj runtime.Object, manager string, op metav1.ManagedFieldsOperationType, fieldsPath ...string) bool {
	t.Helper()
	raw := fieldsOf(obj, manager, op)
	if raw == "" {
		return false
	}
	var node map[string]interface{}
	if err := json.Unmarshal([]byte(raw), &node); err != nil {
		t.Fatalf("fieldsV1 of %s: %v", manager, err)
	}
	for _, k := range fieldsPath {
		next, ok := node[k].(map[string]interface{})
		if !ok {
			return false
		}
		node = next
	}
	return true
}

// statusOf returns the Status carried by err, failing the test if err is not a StatusError.
func statusOf(t testing.TB, err error) metav1.Status {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *StatusError", err, err)
	}
	return se.ErrStatus
}

// diff returns a go-cmp diff of the JSON forms of two values.
func diff(got, want interface{}) string {
	return cmp.Diff(jsonValue(want), jsonValue(got))
}

func jsonValue(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("marshal: %v", err)
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("unmarshal: %v", err)
	}
	return out
}

// jsonString quotes s as a JSON string, for building kubectl's annotation patches.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// containerNames lists the names of a pod spec's containers in order.
func containerNames(spec corev1.PodSpec) string {
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// deploy returns obj as the Deployment it holds.
func deploy(obj runtime.Object) *appsv1.Deployment { return obj.(*appsv1.Deployment) }
