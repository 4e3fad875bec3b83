package validation_test

import (
	"fmt"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	"github.com/capstan-io/capstan/apiserver/internal/validation"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ExampleCreate() {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "nginx",
			Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 70000}},
		}}},
	}
	defaults.Apply(pod)
	for _, err := range validation.Create(pod) {
		fmt.Println(err)
	}
	// Output:
	// spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive
}

func ExampleUpdate() {
	old := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default", ResourceVersion: "3"},
		Data:       map[string]string{"k": "v"},
		Immutable:  func() *bool { b := true; return &b }(),
	}
	cm := old.DeepCopy()
	cm.Data["k"] = "w"
	fmt.Println(validation.Update(cm, old).ToAggregate())
	// Output:
	// data: Forbidden: field is immutable when `immutable` is set
}
