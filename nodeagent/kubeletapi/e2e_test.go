package kubeletapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

const kubectlPath = "/usr/bin/kubectl"

// upgradeLog records the Upgrade header of every request the kubelet API authorizes.
type upgradeLog struct {
	mu       sync.Mutex // protects upgrades
	upgrades map[string][]string
}

// authorize requires the API server's client certificate and records the request's upgrade.
func (l *upgradeLog) authorize(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "capstan-apiserver" {
		return errors.New("only the API server may use the kubelet API")
	}
	endpoint := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
	l.mu.Lock()
	defer l.mu.Unlock()
	l.upgrades[endpoint] = append(l.upgrades[endpoint], strings.ToLower(r.Header.Get("Upgrade")))
	return nil
}

// count returns how many requests reached the endpoint.
func (l *upgradeLog) count(endpoint string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.upgrades[endpoint])
}

// checkOnce fails the test unless exactly one request reached the endpoint since before.
func (l *upgradeLog) checkOnce(t *testing.T, endpoint string, before int) {
	t.Helper()
	if n := l.count(endpoint) - before; n != 1 {
		t.Errorf("one kubectl command sent %d requests to /%s; want 1. (The API server's proxy sends every upgrade twice "+
			"when its UpgradeTransport's request round tripper is the real transport: apiserver/proxy.go must use "+
			"utilproxy.NewUpgradeRequestRoundTripper(transport, utilproxy.MirrorRequest).)", n, endpoint)
	}
}

// last returns the Upgrade header of the endpoint's last request.
func (l *upgradeLog) last(endpoint string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.upgrades[endpoint]
	if len(u) == 0 {
		return "<none>"
	}
	return u[len(u)-1]
}

// TestKubectl drives the real kubectl through the real API server's proxy to the kubelet API,
// over WebSocket (kubectl's default) and SPDY (with kubectl's WebSocket features turned off).
func TestKubectl(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Skipf("kubectl is not installed at %s", kubectlPath)
	}
	upgrades := &upgradeLog{upgrades: map[string][]string{}}
	ts := startServer(t, func(c *Config) {
		c.Authorize = upgrades.authorize
		// Sessions whose client never opens its SPDY streams hold Serve's shutdown this long.
		c.StreamCreationTimeout = 5 * time.Second
	})
	cluster := apitest.NewCluster(t, 1, func(c *apiserver.Config) {
		c.Kubelet = &apiserver.KubeletConfig{TLS: ts.pki.clientTLS(t)}
	})
	member := cluster.Members()[0]
	client := cluster.Client(member)
	ctx := context.Background()

	_, portText, _ := strings.Cut(ts.addr, ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	node, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := client.CoreV1().Pods(testNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: testPod},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{
			{Name: testContainer, Image: "busybox", Stdin: true, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := client.CoreV1().Pods(testNamespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := cluster.Kubeconfig(member)

	protocols := []struct {
		name    string
		env     []string
		upgrade string
	}{
		{name: "websocket", upgrade: "websocket"},
		{name: "spdy", env: []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}, upgrade: "spdy/3.1"},
	}
	commands := []struct {
		name     string
		args     []string
		stdin    string
		want     string // the whole standard output
		wantCode int    // kubectl's exit code
		endpoint string // the kubelet API endpoint, to check the protocol of upgrades
		check    func(t *testing.T)
	}{
		{name: "logs", args: []string{"logs", testPod}, want: "one\ntwo\nthree\n", endpoint: "containerLogs", check: func(t *testing.T) {
			if opts := ts.rt.lastLogs(); opts.Follow || opts.TailLines != nil || !opts.Since.IsZero() {
				t.Errorf("plain logs reached the runtime as %+v", opts)
			}
		}},
		{name: "logs with flags", args: []string{"logs", testPod, "-c", testContainer, "--tail=1", "--timestamps", "--since=1h", "--limit-bytes=100"},
			want: "2025-01-02T03:04:05Z three\n", endpoint: "containerLogs", check: func(t *testing.T) {
				opts := ts.rt.lastLogs()
				if opts.TailLines == nil || *opts.TailLines != 1 || !opts.Timestamps || opts.LimitBytes != 100 ||
					time.Since(opts.Since) < 59*time.Minute || time.Since(opts.Since) > 61*time.Minute {
					t.Errorf("logs flags reached the runtime as %+v", opts)
				}
			}},
		{name: "previous logs", args: []string{"logs", "--previous", testPod}, want: "one\ntwo\nthree\n", endpoint: "containerLogs", check: func(t *testing.T) {
			ts.rt.mu.Lock()
			defer ts.rt.mu.Unlock()
			if id := ts.rt.logIDs[len(ts.rt.logIDs)-1]; id != "c-app-0" {
				t.Errorf("logs --previous read %s; want c-app-0", id)
			}
		}},
		{name: "exec", args: []string{"exec", testPod, "--", "echo", "hello", "world"}, want: "hello world\n", endpoint: "exec"},
		{name: "exec with stdin", args: []string{"exec", "-i", testPod, "--", "cat"}, stdin: "first\nsecond\n", want: "first\nsecond\n", endpoint: "exec"},
		{name: "exec exit code", args: []string{"exec", testPod, "--", "sh", "-c", "exit 3"}, wantCode: 3, endpoint: "exec"},
		{name: "attach", args: []string{"attach", "-i", testPod}, stdin: "ping\n", want: "attached to c-app-1\nping\n", endpoint: "attach"},
	}
	for _, proto := range protocols {
		k := newKubectl(t, kubeconfig, proto.env)
		for _, tt := range commands {
			t.Run(proto.name+"/"+tt.name, func(t *testing.T) {
				before := upgrades.count(tt.endpoint)
				stdout, stderr, code := k.run(t, tt.stdin, tt.args...)
				upgrades.checkOnce(t, tt.endpoint, before)
				if code != tt.wantCode {
					t.Fatalf("kubectl %s exited %d; want %d\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), code, tt.wantCode, stdout, stderr)
				}
				if stdout != tt.want {
					t.Errorf("kubectl %s printed %q; want %q\nstderr: %s", strings.Join(tt.args, " "), stdout, tt.want, stderr)
				}
				if tt.endpoint != "containerLogs" {
					if got := upgrades.last(tt.endpoint); got != proto.upgrade {
						t.Errorf("kubectl %s reached the kubelet API with Upgrade %q; want %q", strings.Join(tt.args, " "), got, proto.upgrade)
					}
				}
				if tt.check != nil {
					tt.check(t)
				}
			})
		}
		t.Run(proto.name+"/port-forward", func(t *testing.T) {
			before := upgrades.count("portForward")
			local := k.portForward(t, "pod/"+testPod, ":8080")
			if got := upgrades.last("portForward"); got != proto.upgrade {
				t.Errorf("kubectl port-forward reached the kubelet API with Upgrade %q; want %q", got, proto.upgrade)
			}
			for i := range 3 {
				msg := fmt.Sprintf("through kubectl %d\n", i)
				if got, err := echoThrough(local, msg); err != nil || got != msg {
					t.Errorf("connection %d through kubectl port-forward echoed %q, %v; want %q", i, got, err, msg)
				}
			}
			upgrades.checkOnce(t, "portForward", before)
		})
	}
}

// lastLogs returns the options of the runtime's last Logs call.
func (f *fakeRuntime) lastLogs() runtime.LogOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.logOpts) == 0 {
		return runtime.LogOptions{}
	}
	return f.logOpts[len(f.logOpts)-1]
}

// kubectl runs the real kubectl with its own home and cache directories.
type kubectl struct {
	kubeconfig string
	dir        string
	env        []string
}

func newKubectl(t *testing.T, kubeconfig string, env []string) *kubectl {
	dir := t.TempDir()
	return &kubectl{kubeconfig: kubeconfig, dir: dir, env: append(append(os.Environ(), "HOME="+dir), env...)}
}

func (k *kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.dir, "cache")}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, args...)
	cmd.Env = k.env
	return cmd
}

// run runs kubectl to completion and returns its output and exit code.
func (k *kubectl) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := k.command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// forwardingFrom matches kubectl port-forward's announcement of its local port.
var forwardingFrom = regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> \d+`)

// portForward starts kubectl port-forward, waits for its "Forwarding from" line and returns the
// local port. kubectl is killed when the test ends.
func (k *kubectl) portForward(t *testing.T, target, ports string) uint16 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := k.command(ctx, "port-forward", "--address", "127.0.0.1", target, ports)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan uint16, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := forwardingFrom.FindStringSubmatch(sc.Text()); m != nil {
				p, _ := strconv.ParseUint(m[1], 10, 16)
				found <- uint16(p)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-scanned
		_ = cmd.Wait()
	})
	select {
	case p := <-found:
		return p
	case <-scanned:
		t.Fatalf("kubectl port-forward ended before forwarding: %s", errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("kubectl port-forward did not announce its port: %s", errOut.String())
	}
	return 0
}
