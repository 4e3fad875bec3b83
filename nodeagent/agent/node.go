package agent

import (
	"bytes"
	"encoding/json"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/controllers/nodelifecycle"
)

// KubeletVersion is the kubelet version the Node reports: the Kubernetes version the API
// serves.
const KubeletVersion = "v1.32.4+capstan"

// Reasons of the Ready condition, as the kubelet words them.
const (
	reasonReady    = "KubeletReady"
	reasonNotReady = "KubeletNotReady"
)

// hostInfo describes the machine a node runs on.
type hostInfo struct {
	CPUs                  int
	MemoryBytes           int64
	EphemeralBytes        int64
	Hostname              string
	KernelVersion         string
	OSImage               string
	MachineID, SystemUUID string
	BootID                string
}

// readHostInfo inspects this machine; dataDir's file system is the ephemeral storage.
func readHostInfo(dataDir string) hostInfo {
	h := hostInfo{CPUs: goruntime.NumCPU(), OSImage: "Linux"}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		h.MemoryBytes = int64(si.Totalram) * int64(si.Unit)
	}
	var st syscall.Statfs_t
	if syscall.Statfs(dataDir, &st) == nil {
		h.EphemeralBytes = int64(st.Blocks) * st.Bsize
	}
	h.Hostname, _ = os.Hostname()
	var uts syscall.Utsname
	if syscall.Uname(&uts) == nil {
		h.KernelVersion = utsString(uts.Release[:])
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				h.OSImage = strings.Trim(v, `"`)
			}
		}
	}
	h.MachineID = readTrimmed("/etc/machine-id")
	h.SystemUUID = readTrimmed("/sys/class/dmi/id/product_uuid")
	h.BootID = readTrimmed("/proc/sys/kernel/random/boot_id")
	return h
}

func utsString(b []int8) string {
	var buf bytes.Buffer
	for _, c := range b {
		if c == 0 {
			break
		}
		buf.WriteByte(byte(c))
	}
	return buf.String()
}

func readTrimmed(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// nodeSpec is what the agent publishes about its Node.
type nodeSpec struct {
	Name        string
	Advertise   string
	KubeletPort int
	MaxPods     int
	// Runtime is the container runtime version, like containerd://1.6.20.
	Runtime string
	Host    hostInfo
	// Gossip marks the node as judged by gossip (nodelifecycle.GossipAnnotation).
	Gossip bool
	// Labels are extra labels.
	Labels map[string]string
	// PodCIDR, when set, is registered as the Node's spec.podCIDR (hollow nodes bring their
	// own); otherwise the node IPAM controller assigns one.
	PodCIDR string
}

// buildNode returns the Node as registered: metadata and status except conditions.
func buildNode(s nodeSpec) *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:   s.Name,
		corev1.LabelOSStable:   goruntime.GOOS,
		corev1.LabelArchStable: goruntime.GOARCH,
	}
	for k, v := range s.Labels {
		labels[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: labels, Annotations: map[string]string{}}}
	if s.Gossip {
		node.Annotations[nodelifecycle.GossipAnnotation] = "true"
	}
	if s.PodCIDR != "" {
		node.Spec.PodCIDR, node.Spec.PodCIDRs = s.PodCIDR, []string{s.PodCIDR}
	}
	node.Status = buildStatus(s)
	return node
}

// buildStatus returns the Node status the agent owns, without conditions.
func buildStatus(s nodeSpec) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(s.Host.CPUs), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(s.Host.MemoryBytes, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(s.MaxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(s.Host.EphemeralBytes, resource.BinarySI),
	}
	hostname := s.Host.Hostname
	if hostname == "" {
		hostname = s.Name
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: s.Advertise},
			{Type: corev1.NodeHostName, Address: hostname},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(s.KubeletPort)}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: s.Host.MachineID, SystemUUID: s.Host.SystemUUID, BootID: s.Host.BootID,
			KernelVersion: s.Host.KernelVersion, OSImage: s.Host.OSImage,
			ContainerRuntimeVersion: s.Runtime, KubeletVersion: KubeletVersion, KubeProxyVersion: KubeletVersion,
			OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
		},
	}
}

// readiness is the node's health as the agent sees it.
type readiness struct {
	// Ready is true when the runtime answers and the pod network is configured.
	Ready bool
	// Message explains a not-ready node.
	Message string
}

// conditions returns the node's conditions at now. Transition times are kept from prev for
// conditions whose status did not change.
func conditions(now time.Time, r readiness, prev []corev1.NodeCondition) []corev1.NodeCondition {
	ts := metav1.NewTime(now)
	ready := readyConditionOf(r)
	out := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		ready,
	}
	for i := range out {
		out[i].LastHeartbeatTime, out[i].LastTransitionTime = ts, ts
		for _, p := range prev {
			if p.Type == out[i].Type && p.Status == out[i].Status {
				out[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return out
}

// readyConditionOf returns the Ready condition the agent writes for r, without times.
func readyConditionOf(r readiness) corev1.NodeCondition {
	if !r.Ready {
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: reasonNotReady, Message: r.Message}
	}
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: reasonReady, Message: "kubelet is posting ready status"}
}

// conditionsPatch is the strategic merge patch of nodes/status that sets conditions (merged
// by type, so conditions others own are kept).
func conditionsPatch(conds []corev1.NodeCondition) []byte {
	type status struct {
		Conditions []corev1.NodeCondition `json:"conditions"`
	}
	data, _ := json.Marshal(struct {
		Status status `json:"status"`
	}{status{conds}})
	return data
}
