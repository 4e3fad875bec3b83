package tables

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestNodeColumns(t *testing.T) {
	nodesGR := schema.GroupResource{Resource: "nodes"}
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
			{Type: corev1.NodeReady, Status: s},
		}
	}
	tests := []struct {
		name string
		node func(n *corev1.Node)
		want map[string]any
	}{
		{
			name: "ready worker",
			node: func(n *corev1.Node) {
				n.Status.Conditions = ready(corev1.ConditionTrue)
				n.Status.NodeInfo = corev1.NodeSystemInfo{
					KubeletVersion: "v1.32.4", OSImage: "Debian GNU/Linux 12 (bookworm)",
					KernelVersion: "6.1.0-18-amd64", ContainerRuntimeVersion: "containerd://1.7.35",
				}
				n.Status.Addresses = []corev1.NodeAddress{
					{Type: corev1.NodeHostName, Address: "node-1"},
					{Type: corev1.NodeInternalIP, Address: "192.168.1.10"},
					{Type: corev1.NodeExternalIP, Address: "203.0.113.10"},
					{Type: corev1.NodeInternalIP, Address: "192.168.1.11"},
				}
			},
			want: map[string]any{
				"Name": "node-1", "Status": "Ready", "Roles": "<none>", "Age": "60m", "Version": "v1.32.4",
				"Internal-IP": "192.168.1.10", "External-IP": "203.0.113.10",
				"OS-Image": "Debian GNU/Linux 12 (bookworm)", "Kernel-Version": "6.1.0-18-amd64",
				"Container-Runtime": "containerd://1.7.35",
			},
		},
		{
			name: "not ready",
			node: func(n *corev1.Node) { n.Status.Conditions = ready(corev1.ConditionFalse) },
			want: map[string]any{"Status": "NotReady"},
		},
		{
			name: "ready unknown",
			node: func(n *corev1.Node) { n.Status.Conditions = ready(corev1.ConditionUnknown) },
			want: map[string]any{"Status": "NotReady"},
		},
		{
			name: "no ready condition",
			node: func(n *corev1.Node) {},
			want: map[string]any{
				"Status": "Unknown", "Version": "", "Internal-IP": "<none>", "External-IP": "<none>",
				"OS-Image": "<unknown>", "Kernel-Version": "<unknown>", "Container-Runtime": "<unknown>",
			},
		},
		{
			name: "cordoned",
			node: func(n *corev1.Node) {
				n.Status.Conditions = ready(corev1.ConditionTrue)
				n.Spec.Unschedulable = true
			},
			want: map[string]any{"Status": "Ready,SchedulingDisabled"},
		},
		{
			name: "cordoned without conditions",
			node: func(n *corev1.Node) { n.Spec.Unschedulable = true },
			want: map[string]any{"Status": "Unknown,SchedulingDisabled"},
		},
		{
			name: "roles from labels",
			node: func(n *corev1.Node) {
				n.Labels = map[string]string{
					"node-role.kubernetes.io/control-plane": "",
					"node-role.kubernetes.io/worker":        "true",
					"node-role.kubernetes.io/":              "",
					"kubernetes.io/role":                    "master",
					"kubernetes.io/hostname":                "node-1",
				}
			},
			want: map[string]any{"Roles": "control-plane,master,worker"},
		},
		{
			name: "duplicate role from both label styles",
			node: func(n *corev1.Node) {
				n.Labels = map[string]string{"node-role.kubernetes.io/master": "", "kubernetes.io/role": "master"}
			},
			want: map[string]any{"Roles": "master"},
		},
		{
			name: "empty legacy role label",
			node: func(n *corev1.Node) { n.Labels = map[string]string{"kubernetes.io/role": ""} },
			want: map[string]any{"Roles": "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{ObjectMeta: objMeta("node-1")}
			node.Namespace = ""
			tt.node(node)
			checkCells(t, nodesGR, node, tt.want)
		})
	}
}
