package placement

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// canonical renders a resource list as name=value strings, so that lists equal in value
// compare equal whatever the format of their quantities.
func canonical(l corev1.ResourceList) map[string]string {
	out := make(map[string]string, len(l))
	for name, q := range l {
		if name == corev1.ResourceCPU {
			out[string(name)] = fmt.Sprintf("%dm", q.MilliValue())
			continue
		}
		out[string(name)] = fmt.Sprint(q.Value())
	}
	return out
}

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want corev1.ResourceList
	}{
		{
			name: "no requests",
			pod:  makePod("p"),
			want: corev1.ResourceList{},
		},
		{
			name: "containers add up",
			pod:  makePod("p", requests("cpu", "1", "memory", "1Gi"), container("cpu", "500m", "example.com/gpu", "1")),
			want: resourceList("cpu", "1500m", "memory", "1Gi", "example.com/gpu", "1"),
		},
		{
			name: "largest init container wins per resource",
			pod:  makePod("p", requests("cpu", "1", "memory", "1Gi"), initContainer(false, "cpu", "2"), initContainer(false, "memory", "512Mi")),
			want: resourceList("cpu", "2", "memory", "1Gi"),
		},
		{
			name: "sidecars run alongside later init containers and the containers",
			pod: makePod("p", requests("cpu", "1"),
				initContainer(true, "cpu", "500m"),
				initContainer(false, "cpu", "2"),
				initContainer(true, "cpu", "250m"),
			),
			want: resourceList("cpu", "2500m"), // max(1 + 0.5 + 0.25, 0.5 + 2)
		},
		{
			name: "overhead",
			pod:  makePod("p", requests("cpu", "1"), overhead("cpu", "100m", "memory", "64Mi")),
			want: resourceList("cpu", "1100m", "memory", "64Mi"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodRequests(tt.pod)
			if diff := cmp.Diff(canonical(tt.want), canonical(got)); diff != "" {
				t.Errorf("PodRequests() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeInfoAddPod(t *testing.T) {
	n := NewNodeInfo(makeNode("a", "4", "8Gi", 110),
		makePod("p", requests("cpu", "1", "memory", "1Gi")),
		makePod("q"),
		makePod("r", requests("memory", "1Gi", "example.com/gpu", "1")),
	)
	if len(n.Pods) != 3 {
		t.Errorf("len(Pods) = %d; want 3", len(n.Pods))
	}
	wantRequested := map[string]string{"cpu": "1000m", "memory": fmt.Sprint(2 << 30), "ephemeral-storage": "0", "example.com/gpu": "1"}
	if diff := cmp.Diff(wantRequested, canonical(n.Requested)); diff != "" {
		t.Errorf("Requested mismatch (-want +got):\n%s", diff)
	}
	wantNonZero := map[string]string{"cpu": "1200m", "memory": fmt.Sprint(2<<30 + DefaultMemoryRequest)}
	if diff := cmp.Diff(wantNonZero, canonical(n.NonZeroRequested)); diff != "" {
		t.Errorf("NonZeroRequested mismatch (-want +got):\n%s", diff)
	}
}

func TestNodeInfoAddPodToHandBuiltInfo(t *testing.T) {
	n := &NodeInfo{
		Node:      makeNode("a", "4", "8Gi", 110),
		Requested: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
	}
	n.AddPod(makePod("p"))
	if got := n.Requested[corev1.ResourceCPU]; got.MilliValue() != 2000 {
		t.Errorf("Requested cpu = %v; want 2", got.String())
	}
	if got := n.NonZeroRequested[corev1.ResourceCPU]; got.MilliValue() != 2100 {
		t.Errorf("NonZeroRequested cpu = %v; want 2100m", got.String())
	}
}
