package tables_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/internal/tables"
)

func ExampleConvertor_Convert() {
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	pods := &corev1.PodList{Items: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "default", CreationTimestamp: metav1.NewTime(now.Add(-2 * time.Hour))},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name:         "app",
				State:        corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				RestartCount: 3,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 1, Reason: "Error", FinishedAt: metav1.NewTime(now.Add(-5 * time.Minute)),
				}},
			}},
		},
	}}}

	table, err := tables.For(schema.GroupResource{Resource: "pods"}).Convert(pods, now, tables.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, c := range table.ColumnDefinitions {
		if c.Priority == 0 { // what `kubectl get` shows without -o wide
			fmt.Printf("%s=%v\n", c.Name, table.Rows[0].Cells[i])
		}
	}
	// Output:
	// Name=web-1
	// Ready=0/1
	// Status=CrashLoopBackOff
	// Restarts=3 (5m ago)
	// Age=120m
}
