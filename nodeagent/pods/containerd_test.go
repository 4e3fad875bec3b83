package pods

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

// TestContainerd runs a pod on a private containerd with the CNI plugins: it reaches Running
// with a pod IP and passes its readiness probe, sees its configMap volume and env, logs, and is
// deleted gracefully.
func TestContainerd(t *testing.T) {
	if err := runtime.CheckHost(); err != nil {
		t.Skipf("skipping: the host cannot run containers (this test needs root, containerd, runc and the CNI plugins):\n%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	d, err := runtime.StartDaemon(ctx, filepath.Join(dir, "containerd"))
	if err != nil {
		t.Fatalf("StartDaemon: %v", err)
	}
	suffix := randomHex(3)
	rcfg := runtime.DefaultConfig()
	rcfg.Address = d.Address()
	rcfg.StateDir = filepath.Join(dir, "state")
	rcfg.NetNSDir = filepath.Join(dir, "netns")
	rcfg.CgroupParent = "/capstan-pods-test-" + suffix
	rcfg.Network.Name = "capstan-pods-test-" + suffix
	rcfg.Network.Bridge = "capp" + suffix
	rcfg.Network.Subnet = unusedSubnet(t)
	rcfg.Network.IPMasq = false
	rt, err := runtime.New(ctx, rcfg)
	if err != nil {
		d.Close()
		t.Fatalf("runtime.New: %v", err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		cs, _ := rt.ListContainers(cctx, runtime.ContainerFilter{})
		for _, c := range cs {
			rt.RemoveContainer(cctx, c.ID)
		}
		sbs, _ := rt.ListSandboxes(cctx)
		for _, sb := range sbs {
			rt.StopSandbox(cctx, sb.UID)
		}
		rt.Close()
		if err := d.Close(); err != nil {
			t.Errorf("stop containerd: %v", err)
		}
		exec.Command("ip", "link", "del", rcfg.Network.Bridge).Run()
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + rcfg.CgroupParent)
		for _, d := range dirs {
			os.Remove(d)
		}
	})
	if _, err := testimage.Import(ctx, rt, testimage.Options{}); err != nil {
		t.Fatalf("import the test image: %v", err)
	}

	client := fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"key": "from-configmap"}})
	cfg := DefaultConfig()
	cfg.NodeName = testNode
	cfg.NodeIPs = []string{"127.0.0.1"}
	cfg.Runtime = rt
	cfg.Client = client
	cfg.RootDir = filepath.Join(dir, "pods")
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.StatusInterval = 100 * time.Millisecond
	cfg.ResyncPeriod = time.Second
	rec := &recorder{}
	cfg.Recorder = rec
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	}()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: types.UID("0f7d1f2e-0000-4000-8000-" + randomHex(6))},
		Spec: corev1.PodSpec{
			NodeName: testNode, RestartPolicy: corev1.RestartPolicyAlways,
			Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}},
			Containers: []corev1.Container{{
				Name: "main", Image: testimage.DefaultName, ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"sh", "-c", "echo hi; sleep 3600"},
				Env:          []corev1.EnvVar{{Name: "GREETING", Value: "hello-env"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/etc/cfg/key"}}},
					PeriodSeconds: 1},
			}},
		},
	}
	pod, err = client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Sync(pod)

	var got *corev1.Pod
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ = client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if got.Status.Phase == corev1.PodRunning && condition(got, corev1.PodReady) == corev1.ConditionTrue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not Running and Ready after 20s: %+v\nevents:\n%s", got.Status, rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ip := net.ParseIP(got.Status.PodIP); ip == nil {
		t.Errorf("podIP = %q; want an address", got.Status.PodIP)
	}
	cid, err := m.ContainerID("default", "hello", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	var out limitedBuffer // stdout and stderr write concurrently
	if code, err := rt.Exec(ctx, cid, []string{"sh", "-c", "echo $GREETING; cat /etc/cfg/key; grep hello /etc/hosts"}, runtime.Streams{Stdout: &out, Stderr: &out}); err != nil || code != 0 {
		t.Errorf("Exec() = %d, %v (%s)", code, err, out.String())
	}
	for _, want := range []string{"hello-env", "from-configmap", got.Status.PodIP + "\thello"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("in the container: %q; want it to contain %q", out.String(), want)
		}
	}
	var logs bytes.Buffer
	if err := rt.Logs(ctx, cid, runtime.LogOptions{}, &logs); err != nil || !strings.Contains(logs.String(), "hi") {
		t.Errorf("Logs() = %q, %v; want hi", logs.String(), err)
	}

	grace := int64(2)
	now := metav1.Now()
	got.DeletionTimestamp, got.DeletionGracePeriodSeconds = &now, &grace
	got, err = client.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Sync(got)
	deadline = time.Now().Add(15 * time.Second)
	for {
		_, err := client.CoreV1().Pods("default").Get(ctx, "hello", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not deleted 15s after its deletion began\nevents:\n%s", rec)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); m.Stats().Pods != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("worker still there 10s after the pod was deleted")
		}
	}
	if cs, _ := rt.ListContainers(ctx, runtime.ContainerFilter{}); len(cs) != 0 {
		t.Errorf("containers left after delete: %+v", cs)
	}
	if sbs, _ := rt.ListSandboxes(ctx); len(sbs) != 0 {
		t.Errorf("sandboxes left after delete: %+v", sbs)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// unusedSubnet picks a /24 in 10.216.0.0/13 that no local interface uses.
func unusedSubnet(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		b := make([]byte, 2)
		rand.Read(b)
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", 216+int(b[0])%8, b[1]))
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (cand.Contains(ipn.IP) || ipn.Contains(cand.IP)) {
				used = true
			}
		}
		if !used {
			return cand.String()
		}
	}
	t.Fatal("no free subnet")
	return ""
}
