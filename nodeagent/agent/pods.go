package agent

import (
	"context"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/pods"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// podManager is what the agent needs of the pod workers (pods.Manager).
type podManager interface {
	podSink
	kubeletapi.Pods
	Run(ctx context.Context) error
	SetSourcesReady()
}

var _ podManager = (*pods.Manager)(nil)

// newPods returns the pod manager of a real node.
func (a *Agent) newPods(client kubernetes.Interface, rt runtime.Runtime, recorder record.EventRecorder, host hostInfo) (podManager, error) {
	pc := pods.DefaultConfig()
	pc.NodeName, pc.NodeIPs = a.cfg.Name, []string{a.cfg.Advertise}
	pc.Runtime, pc.Client, pc.Recorder = rt, client, recorder
	pc.RootDir = filepath.Join(a.cfg.DataDir, "pods")
	pc.LogDir = filepath.Join(a.cfg.DataDir, "logs")
	pc.ClusterDNS, pc.ClusterDomain = a.cfg.ClusterDNS, a.cfg.ClusterDomain
	pc.NodeAllocatable = buildStatus(nodeSpec{Host: host, MaxPods: a.cfg.MaxPods}).Allocatable
	pc.Logger = a.log.With("component", "pods")
	return pods.New(pc)
}

// podSink is what the pod informer feeds.
type podSink interface {
	Sync(pod *corev1.Pod)
	Remove(uid types.UID)
}
