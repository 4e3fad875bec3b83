package agent

import (
	"encoding/json"
	"net/netip"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/capstan-io/capstan/controllers/nodelifecycle"
)

func testSpec() nodeSpec {
	return nodeSpec{
		Name: "n1", Advertise: "10.0.0.5", KubeletPort: 10250, MaxPods: 110, Runtime: "containerd://1.6.20", Gossip: true,
		Host: hostInfo{CPUs: 4, MemoryBytes: 8 << 30, EphemeralBytes: 100 << 30, Hostname: "host1", KernelVersion: "6.1.0", OSImage: "Debian GNU/Linux 12 (bookworm)"},
	}
}

func TestBuildNode(t *testing.T) {
	tests := []struct {
		name  string
		spec  func() nodeSpec
		check func(t *testing.T, n *corev1.Node)
	}{
		{name: "labels", spec: testSpec, check: func(t *testing.T, n *corev1.Node) {
			want := map[string]string{corev1.LabelHostname: "n1", corev1.LabelOSStable: goruntime.GOOS, corev1.LabelArchStable: goruntime.GOARCH}
			if diff := cmp.Diff(want, n.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		}},
		{name: "gossip annotation", spec: testSpec, check: func(t *testing.T, n *corev1.Node) {
			if got := n.Annotations[nodelifecycle.GossipAnnotation]; got != "true" {
				t.Errorf("annotation %s = %q; want \"true\"", nodelifecycle.GossipAnnotation, got)
			}
		}},
		{name: "no gossip annotation", spec: func() nodeSpec { s := testSpec(); s.Gossip = false; return s }, check: func(t *testing.T, n *corev1.Node) {
			if _, ok := n.Annotations[nodelifecycle.GossipAnnotation]; ok {
				t.Errorf("annotations = %v; want no gossip annotation", n.Annotations)
			}
		}},
		{name: "capacity and allocatable", spec: testSpec, check: func(t *testing.T, n *corev1.Node) {
			want := map[corev1.ResourceName]string{corev1.ResourceCPU: "4", corev1.ResourceMemory: "8Gi", corev1.ResourcePods: "110", corev1.ResourceEphemeralStorage: "100Gi"}
			for _, list := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
				for name, q := range want {
					if got := list[name]; got.Cmp(resource.MustParse(q)) != 0 {
						t.Errorf("%s = %s; want %s", name, got.String(), q)
					}
				}
			}
		}},
		{name: "addresses", spec: testSpec, check: func(t *testing.T, n *corev1.Node) {
			want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "host1"}}
			if diff := cmp.Diff(want, n.Status.Addresses); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
		}},
		{name: "node info and endpoint", spec: testSpec, check: func(t *testing.T, n *corev1.Node) {
			info := n.Status.NodeInfo
			if info.ContainerRuntimeVersion != "containerd://1.6.20" || info.KubeletVersion != KubeletVersion || info.KernelVersion != "6.1.0" ||
				info.OperatingSystem != goruntime.GOOS || info.Architecture != goruntime.GOARCH || info.OSImage != "Debian GNU/Linux 12 (bookworm)" {
				t.Errorf("nodeInfo = %+v", info)
			}
			if got := n.Status.DaemonEndpoints.KubeletEndpoint.Port; got != 10250 {
				t.Errorf("kubelet endpoint port = %d; want 10250", got)
			}
		}},
		{name: "extra labels", spec: func() nodeSpec { s := testSpec(); s.Labels = map[string]string{HollowLabel: "true"}; return s }, check: func(t *testing.T, n *corev1.Node) {
			if n.Labels[HollowLabel] != "true" || n.Labels[corev1.LabelHostname] != "n1" {
				t.Errorf("labels = %v; want the hollow label and the defaults", n.Labels)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, buildNode(tt.spec()))
		})
	}
}

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(10 * time.Second)
	ready := conditions(t0, readiness{Ready: true}, nil)
	tests := []struct {
		name           string
		r              readiness
		prev           []corev1.NodeCondition
		wantStatus     corev1.ConditionStatus
		wantReason     string
		wantTransition time.Time
	}{
		{name: "first ready", r: readiness{Ready: true}, wantStatus: corev1.ConditionTrue, wantReason: "KubeletReady", wantTransition: t1},
		{name: "still ready keeps the transition time", r: readiness{Ready: true}, prev: ready, wantStatus: corev1.ConditionTrue, wantReason: "KubeletReady", wantTransition: t0},
		{name: "runtime down", r: readiness{Message: "container runtime is down"}, prev: ready, wantStatus: corev1.ConditionFalse, wantReason: "KubeletNotReady", wantTransition: t1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conds := conditions(t1, tt.r, tt.prev)
			byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
			for _, c := range conds {
				byType[c.Type] = c
				if !c.LastHeartbeatTime.Time.Equal(t1) {
					t.Errorf("%s heartbeat = %v; want %v", c.Type, c.LastHeartbeatTime, t1)
				}
			}
			r := byType[corev1.NodeReady]
			if r.Status != tt.wantStatus || r.Reason != tt.wantReason || !r.LastTransitionTime.Time.Equal(tt.wantTransition) {
				t.Errorf("Ready = %s %s since %v; want %s %s since %v", r.Status, r.Reason, r.LastTransitionTime, tt.wantStatus, tt.wantReason, tt.wantTransition)
			}
			if !tt.r.Ready && r.Message != tt.r.Message {
				t.Errorf("Ready message = %q; want %q", r.Message, tt.r.Message)
			}
			for _, p := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
				if byType[p].Status != corev1.ConditionFalse {
					t.Errorf("%s = %s; want False", p, byType[p].Status)
				}
			}
		})
	}
}

// TestConditionsPatchMerges checks that the heartbeat patch replaces the agent's conditions
// by type and keeps a condition someone else owns.
func TestConditionsPatchMerges(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	node := buildNode(testSpec())
	node.Status.Conditions = append(conditions(t0, readiness{}, nil), corev1.NodeCondition{Type: "NetworkUnavailable", Status: corev1.ConditionFalse})
	orig, _ := json.Marshal(node)
	patched, err := strategicpatch.StrategicMergePatch(orig, conditionsPatch(conditions(t0.Add(time.Minute), readiness{Ready: true}, node.Status.Conditions)), &corev1.Node{})
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Node
	if err := json.Unmarshal(patched, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 5 {
		t.Fatalf("patched conditions = %d; want 5 (four of the agent's and NetworkUnavailable)", len(got.Status.Conditions))
	}
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.NodeReady && (c.Status != corev1.ConditionTrue || !c.LastHeartbeatTime.Equal(&metav1.Time{Time: t0.Add(time.Minute)})) {
			t.Errorf("patched Ready = %+v; want True at %v", c, t0.Add(time.Minute))
		}
	}
	if got.Status.Capacity.Pods().Value() != 110 {
		t.Errorf("the patch changed the capacity: %v", got.Status.Capacity)
	}
}

func TestHollowPodStatus(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}}}}
	cidr := hollowPodCIDR(3)
	st := hollowPodStatus(pod, "10.0.0.5", cidr, time.Unix(0, 0))
	if st.Phase != corev1.PodRunning || st.HostIP != "10.0.0.5" || st.PodIP == "" || st.PodIP != hollowPodIP(cidr, "u1") || !cidr.Contains(netip.MustParseAddr(st.PodIP)) {
		t.Errorf("status = phase %s host %s pod %s", st.Phase, st.HostIP, st.PodIP)
	}
	if len(st.ContainerStatuses) != 2 || !st.ContainerStatuses[1].Ready || st.ContainerStatuses[1].State.Running == nil {
		t.Errorf("container statuses = %+v; want two running and ready", st.ContainerStatuses)
	}
	ready := false
	for _, c := range st.Conditions {
		ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
	}
	if !ready {
		t.Errorf("conditions = %+v; want Ready", st.Conditions)
	}
}

func TestHollowPodCIDR(t *testing.T) {
	tests := []struct {
		name string
		i    int
		want string
	}{
		{name: "first", i: 0, want: "100.64.0.0/24"},
		{name: "second", i: 1, want: "100.64.1.0/24"},
		{name: "257th", i: 256, want: "100.65.0.0/24"},
		{name: "last of 10,000", i: 9999, want: "100.103.15.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hollowPodCIDR(tt.i)
			if got.String() != tt.want || !netip.MustParsePrefix("100.64.0.0/10").Contains(got.Addr()) {
				t.Errorf("hollowPodCIDR(%d) = %s; want %s", tt.i, got, tt.want)
			}
		})
	}
}
