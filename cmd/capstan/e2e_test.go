package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/cmd/capstan/internal/master"
	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
)

// capstanBinary is built once for the end-to-end tests, which run real processes.
var capstanBinary string

func TestMain(m *testing.M) {
	cluster.RunWithBinary(m, &capstanBinary)
}

// startCluster starts masters with 300 ms Raft timeouts and serverArgs, and stops them when
// the test ends.
func startCluster(t *testing.T, masters int, serverArgs ...string) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Config{Binary: capstanBinary, Dir: t.TempDir(), Masters: masters,
		ServerArgs: append([]string{"--raft-heartbeat-timeout=300ms", "--raft-election-timeout=300ms"}, serverArgs...)})
	if c != nil {
		t.Cleanup(c.Close)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restConfig(t *testing.T, c *cluster.Cluster, m *cluster.Master) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags(m.URL(), c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Timeout = -1, 10*time.Second
	return cfg
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// writer creates configmaps through every running master until stopped, recording the
// acknowledged ones.
type writer struct {
	c       *cluster.Cluster
	t       *testing.T
	mu      sync.Mutex
	acked   map[string]string // name -> resourceVersion
	stop    atomic.Bool
	done    chan struct{}
	failed  atomic.Int64
	unknown atomic.Int64
}

func startWriter(t *testing.T, c *cluster.Cluster) *writer {
	w := &writer{c: c, t: t, acked: map[string]string{}, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; !w.stop.Load(); i++ {
			var alive []*cluster.Master
			for _, m := range c.Masters {
				if m.PID() != 0 {
					alive = append(alive, m)
				}
			}
			if len(alive) == 0 {
				continue
			}
			m := alive[i%len(alive)]
			cs, err := kubernetes.NewForConfig(restConfig(t, c, m))
			if err != nil {
				continue
			}
			name := fmt.Sprintf("w%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			cancel()
			switch {
			case err == nil:
				w.mu.Lock()
				w.acked[name] = cm.ResourceVersion
				w.mu.Unlock()
			case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
				w.unknown.Add(1)
			default:
				w.failed.Add(1)
			}
		}
	}()
	return w
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// finish stops the writer and checks that every acknowledged write is in the cluster.
func (w *writer) finish(m *cluster.Master) {
	w.t.Helper()
	w.stop.Store(true)
	<-w.done
	cs := kubernetes.NewForConfigOrDie(restConfig(w.t, w.c, m))
	list, err := cs.CoreV1().ConfigMaps("default").List(ctxTimeout(w.t, 30*time.Second), metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	have := map[string]string{}
	for _, cm := range list.Items {
		have[cm.Name] = cm.ResourceVersion
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, rv := range w.acked {
		if have[name] != rv {
			w.t.Errorf("acknowledged write %s at %s is missing (have %q)", name, rv, have[name])
		}
	}
	w.t.Logf("%d writes acknowledged and present; %d refused, %d unknown", len(w.acked), w.failed.Load(), w.unknown.Load())
}

func waitForCount(t *testing.T, w *writer, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("writes stalled at %d (want %d)", w.count(), n)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

func admin(t *testing.T, c *cluster.Cluster, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(capstanBinary, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestClusterMembershipAndLeaderKill(t *testing.T) {
	c := startCluster(t, 3)
	out, err := admin(t, c, "members", "list")
	if err != nil || strings.Count(out, " voter ") != 3 || strings.Count(out, "true    true") != 1 {
		t.Fatalf("members list (%v):\n%s", err, out)
	}
	w := startWriter(t, c)
	waitForCount(t, w, 20)

	// Kill the leader: a new one is listed within 2 s.
	leader, err := c.Leader(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var newLeader *cluster.Master
	for newLeader == nil || newLeader == leader {
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("no new leader listed within 2s of killing %s", leader.Name)
		}
		newLeader, _ = c.Leader(ctxTimeout(t, time.Second))
	}
	t.Logf("killed leader %s; %s leads after %s", leader.Name, newLeader.Name, time.Since(killed).Round(time.Millisecond))
	waitForCount(t, w, w.count()+20)

	// Remove the dead member and add a new one while writes continue.
	if out, err := admin(t, c, "members", "remove", leader.Name, "--server", newLeader.URL()); err != nil {
		t.Fatalf("remove %s: %v\n%s", leader.Name, err, out)
	}
	newMaster := &cluster.Master{Name: "m4", DataDir: filepath.Join(filepath.Dir(leader.DataDir), "m4")}
	joinCmd := exec.Command(capstanBinary, "server", "--name", "m4", "--data-dir", newMaster.DataDir, "--advertise", "127.0.0.1", "--bind-address", "127.0.0.1",
		"--api-port", "0", "--peer-port", "0", "--gossip-port", "0", "--join", newLeader.URL(), "--token", c.JoinToken(), "--raft-heartbeat-timeout=300ms", "--raft-election-timeout=300ms")
	var joinLog bytes.Buffer
	joinCmd.Stdout, joinCmd.Stderr = &joinLog, &joinLog
	if err := joinCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { joinCmd.Process.Signal(syscall.SIGTERM); joinCmd.Wait() })
	if out, err := admin(t, c, "wait", "--voters", "3", "--timeout", "60s", "--server", newLeader.URL()); err != nil {
		t.Fatalf("wait for 3 voters after the join: %v\n%s\n%s", err, out, joinLog.String())
	}
	waitForCount(t, w, w.count()+20)
	// The removed ID can never come back.
	if out, err := admin(t, c, "members", "add", leader.Name, "127.0.0.1:1", "--server", newLeader.URL()); err == nil || !strings.Contains(out, "removed") {
		t.Errorf("re-adding removed %s: %v\n%s", leader.Name, err, out)
	}
	w.finish(newLeader)
}

func TestRollingRestartLosesNothing(t *testing.T) {
	c := startCluster(t, 3)
	w := startWriter(t, c)
	waitForCount(t, w, 20)
	for _, m := range c.Masters {
		if err := c.Stop(m); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(ctxTimeout(t, time.Minute), m); err != nil {
			t.Fatal(err)
		}
		if out, err := admin(t, c, "wait", "--healthy", "--voters", "3", "--timeout", "60s"); err != nil {
			t.Fatalf("wait after restarting %s: %v\n%s", m.Name, err, out)
		}
		waitForCount(t, w, w.count()+10)
	}
	w.finish(c.Masters[0])
}

func TestSnapshotRestoreAndRecover(t *testing.T) {
	c := startCluster(t, 3)
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[1]))
	ctx := ctxTimeout(t, 2*time.Minute)
	var lastRV uint64
	for i := 0; i < 10; i++ {
		cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("keep-%d", i)}, Data: map[string]string{"i": strconv.Itoa(i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lastRV, _ = strconv.ParseUint(cm.ResourceVersion, 10, 64)
	}
	snap := filepath.Join(t.TempDir(), "cluster.snapshot")
	if out, err := admin(t, c, "snapshot", "save", snap); err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	if out, err := admin(t, c, "snapshot", "inspect", snap); err != nil || !strings.Contains(out, "/registry/configmaps") {
		t.Fatalf("snapshot inspect: %v\n%s", err, out)
	}

	// Restore into a fresh single-master cluster: the objects are there, resourceVersions no lower.
	dir := t.TempDir()
	apiPort, _ := cluster.FreePort()
	peerPort, _ := cluster.FreePort()
	gossipPort, _ := cluster.FreePort()
	if out, err := admin(t, c, "snapshot", "restore", snap, "--data-dir", dir, "--name", "r1", "--advertise", "127.0.0.1",
		"--bind-address", "127.0.0.1", "--api-port", strconv.Itoa(apiPort), "--peer-port", strconv.Itoa(peerPort), "--gossip-port", strconv.Itoa(gossipPort)); err != nil {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	restored := exec.Command(capstanBinary, "server", "--data-dir", dir)
	var rlog bytes.Buffer
	restored.Stdout, restored.Stderr = &rlog, &rlog
	if err := restored.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restored.Process.Signal(syscall.SIGTERM); restored.Wait() })
	rcfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, master.AdminKubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	rcs := kubernetes.NewForConfigOrDie(rcfg)
	var got *corev1.ConfigMapList
	for deadline := time.Now().Add(60 * time.Second); ; {
		got, err = rcs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the restored master is starting
	}
	if err != nil || len(got.Items) != 10 {
		t.Fatalf("restored cluster lists %v configmaps: %v\n%s", got, err, rlog.String())
	}
	cm, err := rcs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-restore"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv, _ := strconv.ParseUint(cm.ResourceVersion, 10, 64); rv <= lastRV {
		t.Errorf("first write after restore at resourceVersion %d; want above %d", rv, lastRV)
	}

	// Recovery is refused while the cluster is healthy.
	survivor := c.Masters[2]
	if err := c.Stop(survivor); err != nil {
		t.Fatal(err)
	}
	if out, err := admin(t, c, "recover", "--data-dir", survivor.DataDir); err == nil || !strings.Contains(out, "healthy") {
		t.Fatalf("recover with a healthy quorum: %v\n%s", err, out)
	}
	// Lose quorum and the other two members' data, then recover the survivor.
	for _, m := range c.Masters[:2] {
		if err := c.Kill(m); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(m.DataDir)
	}
	if out, err := admin(t, c, "recover", "--data-dir", survivor.DataDir); err != nil {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	if err := c.Restart(ctx, survivor); err != nil {
		t.Fatal(err)
	}
	scs := kubernetes.NewForConfigOrDie(restConfig(t, c, survivor))
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err = scs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-recover"}}, metav1.CreateOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the recovered master elects itself
	}
	if err != nil {
		t.Fatalf("the recovered master does not take writes: %v", err)
	}
	list, err := scs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 11 {
		t.Errorf("the recovered master lists %d configmaps, %v; want the 10 before plus 1", len(list.Items), err)
	}
}

func TestIdentitiesAreChecked(t *testing.T) {
	c := startCluster(t, 1)
	m := c.Masters[0]
	ctx := ctxTimeout(t, time.Minute)

	// A wrong bearer token is refused.
	bad := restConfig(t, c, m)
	bad.BearerToken = "not-a-token"
	if _, err := kubernetes.NewForConfigOrDie(bad).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("wrong token: %v; want 401", err)
	}
	// A join token with the wrong secret is refused.
	_, secret, _ := pki.ParseJoinToken(c.JoinToken())
	wrong := strings.Replace(c.JoinToken(), secret, strings.Repeat("0", len(secret)), 1)
	csr, _, _ := pki.NewCSR("n1")
	_, err := master.RequestJoin(ctx, m.URL(), adminapi.JoinRequest{Token: wrong, Name: "n1", Role: adminapi.RoleNode, ClientCSR: string(csr), ServingCSR: string(csr), ServingNames: []string{"127.0.0.1"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid join token") {
		t.Errorf("join with a wrong token: %v; want refused", err)
	}
	// A client certificate from another CA does not get through the TLS handshake.
	other, _ := pki.NewCA("other", time.Hour)
	certPEM, keyPEM, _ := other.Issue(pki.CertRequest{CommonName: "admin", Organizations: []string{"system:masters"}, Usage: pki.UsageClient, Validity: time.Hour})
	foreign := restConfig(t, c, m)
	foreign.BearerToken, foreign.CertData, foreign.KeyData = "", certPEM, keyPEM
	if _, err := kubernetes.NewForConfigOrDie(foreign).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}

	// A node may write only the status of its own pods.
	admin := kubernetes.NewForConfigOrDie(restConfig(t, c, m))
	for _, n := range []string{"n1", "n2"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-" + n}, Spec: corev1.PodSpec{NodeName: n, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	node1 := nodeClient(t, c, m, "n1")
	status := []byte(`{"status":{"phase":"Running"}}`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err = node1.CoreV1().Pods("default").Patch(ctx, "on-n1", types.MergePatchType, status, metav1.PatchOptions{}, "status")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // RBAC rules load at start
	}
	if err != nil {
		t.Errorf("node n1 patching its own pod's status: %v", err)
	}
	if _, err := node1.CoreV1().Pods("default").Patch(ctx, "on-n2", types.MergePatchType, status, metav1.PatchOptions{}, "status"); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 patching the status of a pod on n2: %v; want Forbidden", err)
	}
}

// nodeClient joins as an agent named node and returns a client with its node identity.
func nodeClient(t *testing.T, c *cluster.Cluster, m *cluster.Master, node string) *kubernetes.Clientset {
	t.Helper()
	clientCSR, clientKey, _ := pki.NewCSR("system:node:" + node)
	servingCSR, _, _ := pki.NewCSR("system:node:" + node)
	resp, err := master.RequestJoin(ctxTimeout(t, 30*time.Second), m.URL(), adminapi.JoinRequest{
		Token: c.JoinToken(), Name: node, Role: adminapi.RoleNode, ClientCSR: string(clientCSR), ServingCSR: string(servingCSR), ServingNames: []string{"127.0.0.1"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: m.URL(), QPS: -1, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(resp.CACert), CertData: []byte(resp.ClientCert), KeyData: clientKey}}
	return kubernetes.NewForConfigOrDie(cfg)
}
