package endpoints_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/capstan-io/capstan/controllers/endpoints"
)

// A service selecting one ready pod gets an Endpoints object listing it.
func ExampleController_Sync() {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.96.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-1", UID: "pod-uid", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	client := fake.NewSimpleClientset(svc, pod)
	factory := informers.NewSharedInformerFactory(client, 0)
	core := factory.Core().V1()
	_ = core.Services().Informer().GetIndexer().Add(svc)
	_ = core.Pods().Informer().GetIndexer().Add(pod)

	c := endpoints.NewController(client, core.Services(), core.Pods(), core.Endpoints(), factory.Discovery().V1().EndpointSlices(), record.NewFakeRecorder(10))
	if err := c.Sync(context.Background(), "demo/web"); err != nil {
		fmt.Println(err)
		return
	}
	ep, _ := client.CoreV1().Endpoints("demo").Get(context.Background(), "web", metav1.GetOptions{})
	for _, s := range ep.Subsets {
		fmt.Println(s.Addresses[0].IP, s.Addresses[0].TargetRef.Name, s.Ports[0].Port)
	}
	// Output: 10.244.0.5 web-1 8080
}
