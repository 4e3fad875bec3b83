package deployment_test

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/controllers/deployment"
)

// webTemplate is the pod template of the examples' Deployment.
var webTemplate = corev1.PodTemplateSpec{
	ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
	Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
}

func ExampleComputeHash() {
	fmt.Println(deployment.ComputeHash(&webTemplate, nil))
	fmt.Println(deployment.ComputeHash(&webTemplate, ptr.To[int32](1)))
	// Output:
	// 54dcc5c5b5
	// 84f9459fcb
}

func ExampleNewController() {
	client := fake.NewClientset(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: webTemplate,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
		},
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := deployment.NewController(client, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(),
		factory.Core().V1().Pods(), record.NewFakeRecorder(100))

	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 1)
	}()

	var rs *appsv1.ReplicaSet
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		rs = &list.Items[0]
		return true, nil
	})
	fmt.Println(rs.Name, *rs.Spec.Replicas, rs.Annotations[deployment.RevisionAnnotation])

	cancel()
	<-done
	factory.Shutdown()
	// Output: web-54dcc5c5b5 3 1
}
