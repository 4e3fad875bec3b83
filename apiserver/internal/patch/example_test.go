package patch_test

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
)

func ExampleManager_Patch() {
	m, err := patch.New(scheme.Scheme)
	if err != nil {
		panic(err)
	}
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	opts := patch.Options{
		FieldManager: "kubectl",
		Resource:     schema.GroupResource{Group: "apps", Resource: "deployments"},
		Name:         "web",
		Namespace:    "default",
	}

	// kubectl apply --server-side of a Deployment that does not exist yet creates it.
	manifest := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
		"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}}`
	res, err := m.Patch(nil, gvk, types.ApplyYAMLPatchType, []byte(manifest), opts)
	if err != nil {
		panic(err)
	}
	live := res.Object.(*appsv1.Deployment)
	live.UID = "a-uid" // the registry assigns identity when it stores the object
	fmt.Println("created:", res.Created, "in", live.Namespace)

	// kubectl scale sends a merge patch; its manager now owns spec.replicas.
	res, err = m.Patch(live, gvk, types.MergePatchType, []byte(`{"spec":{"replicas":5}}`),
		patch.Options{FieldManager: "kubectl-scale", Resource: opts.Resource, Name: "web", Namespace: "default"})
	if err != nil {
		panic(err)
	}
	live = res.Object.(*appsv1.Deployment)

	// Re-applying replicas: 3 conflicts with kubectl-scale...
	_, err = m.Patch(live, gvk, types.ApplyYAMLPatchType, []byte(manifest), opts)
	fmt.Println(err)

	// ...unless forced.
	opts.Force = true
	res, err = m.Patch(live, gvk, types.ApplyYAMLPatchType, []byte(manifest), opts)
	if err != nil {
		panic(err)
	}
	fmt.Println("replicas:", *res.Object.(*appsv1.Deployment).Spec.Replicas)
	for _, e := range res.Object.(*appsv1.Deployment).ManagedFields {
		fmt.Println("manager:", e.Manager, e.Operation)
	}
	// Output:
	// created: true in default
	// Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas
	// replicas: 3
	// manager: kubectl Apply
}

func ExampleManager_Update() {
	m, err := patch.New(scheme.Scheme)
	if err != nil {
		panic(err)
	}
	// POST /api/v1/namespaces/default/pods?fieldManager=kubectl-run
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.25"}}},
	}
	obj, err := m.Update(nil, pod, corev1.SchemeGroupVersion.WithKind("Pod"), patch.Options{FieldManager: "kubectl-run"})
	if err != nil {
		panic(err)
	}
	e := obj.(*corev1.Pod).ManagedFields[0]
	fmt.Println(e.Manager, e.Operation, e.APIVersion, string(e.FieldsV1.Raw))
	// Output:
	// kubectl-run Update v1 {"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{}}}}}
}
