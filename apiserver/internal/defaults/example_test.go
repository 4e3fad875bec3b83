package defaults_test

import (
	"fmt"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ExampleApply() {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}},
			}},
		},
	}
	defaults.Apply(d)
	c := d.Spec.Template.Spec.Containers[0]
	fmt.Println(*d.Spec.Replicas, d.Spec.Strategy.Type, d.Spec.Strategy.RollingUpdate.MaxSurge)
	fmt.Println(c.ImagePullPolicy, d.Spec.Template.Spec.RestartPolicy, *d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	// Output:
	// 1 RollingUpdate 25%
	// Always Always 30
}

func ExampleCreate() {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	defaults.Create(ns)
	fmt.Println(ns.Spec.Finalizers, ns.Status.Phase, ns.Labels)
	// Output:
	// [kubernetes] Active map[kubernetes.io/metadata.name:team-a]
}
