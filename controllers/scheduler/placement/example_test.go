package placement_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/controllers/scheduler/placement"
)

func ExamplePlace() {
	node := func(name, cpu string) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse(cpu),
					corev1.ResourceMemory: resource.MustParse("8Gi"),
					corev1.ResourcePods:   resource.MustParse("110"),
				},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "web",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}},
		}}},
	}
	small, large := placement.NewNodeInfo(node("small", "1")), placement.NewNodeInfo(node("large", "4"))

	name, err := placement.Place(pod, []*placement.NodeInfo{small, large})
	fmt.Println(name, err)

	// Account for the placed pod, as a scheduler does before the binding is observed.
	placed := pod.DeepCopy()
	placed.Spec.NodeName = name
	large.AddPod(placed)

	_, err = placement.Place(pod, []*placement.NodeInfo{small, large})
	fmt.Println(err)
	// Output:
	// large <nil>
	// 0/2 nodes are available: 2 Insufficient cpu.
}
