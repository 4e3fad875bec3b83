package runtime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

// testEnv is a private containerd, a runtime on it and the busybox test image.
type testEnv struct {
	tb     testing.TB
	dir    string
	daemon *runtime.Daemon
	cfg    runtime.Config
	rt     *runtime.Containerd
	image  runtime.ImageRef
}

// newTestEnv starts containerd in a temporary directory and a runtime with its own bridge,
// subnet, cgroup parent and state. It skips the test when the host cannot run containers.
func newTestEnv(tb testing.TB) *testEnv {
	tb.Helper()
	if err := runtime.CheckHost(); err != nil {
		tb.Skipf("skipping: the host cannot run containers (this test needs root, containerd, runc and the CNI plugins):\n%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &testEnv{tb: tb, dir: tb.TempDir()}
	d, err := runtime.StartDaemon(ctx, filepath.Join(e.dir, "containerd"))
	if err != nil {
		tb.Fatalf("StartDaemon: %v", err)
	}
	e.daemon = d
	tb.Cleanup(e.cleanup)

	suffix := randHex(3)
	cfg := runtime.DefaultConfig()
	cfg.Address = d.Address()
	cfg.StateDir = filepath.Join(e.dir, "state")
	cfg.NetNSDir = filepath.Join(e.dir, "netns")
	cfg.CgroupParent = "/capstan-test-" + suffix
	cfg.Network.Name = "capstan-test-" + suffix
	cfg.Network.Bridge = "capt" + suffix
	cfg.Network.Subnet = freeSubnet(tb)
	cfg.Network.IPMasq = false
	e.cfg = cfg
	if e.rt, err = runtime.New(ctx, cfg); err != nil {
		tb.Fatalf("New: %v", err)
	}
	if _, err := testimage.Import(ctx, e.rt, testimage.Options{}); err != nil {
		tb.Fatalf("import the test image: %v", err)
	}
	if e.image, err = e.rt.EnsureImage(ctx, testimage.DefaultName, corev1.PullNever, nil); err != nil {
		tb.Fatalf("EnsureImage: %v", err)
	}
	return e
}

// cleanup removes every container and sandbox, stops containerd and removes host state.
func (e *testEnv) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e.rt != nil {
		cs, err := e.rt.ListContainers(ctx, runtime.ContainerFilter{})
		if err != nil {
			e.tb.Errorf("cleanup: ListContainers: %v", err)
		}
		for _, c := range cs {
			if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
				e.tb.Errorf("cleanup: RemoveContainer(%s): %v", c.ID, err)
			}
		}
		sbs, _ := e.rt.ListSandboxes(ctx)
		for _, sb := range sbs {
			if err := e.rt.StopSandbox(ctx, sb.UID); err != nil {
				e.tb.Errorf("cleanup: StopSandbox(%s): %v", sb.UID, err)
			}
		}
		e.rt.Close()
	}
	if err := e.daemon.Close(); err != nil {
		e.tb.Errorf("cleanup: stop containerd: %v", err)
	}
	if e.cfg.Network.Bridge != "" {
		exec.Command("ip", "link", "del", e.cfg.Network.Bridge).Run()
	}
	if e.cfg.CgroupParent != "" {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + e.cfg.CgroupParent)
		for _, d := range dirs {
			os.Remove(d)
		}
	}
}

// restart replaces the runtime by a new one on the same state, as an agent restart does.
func (e *testEnv) restart() {
	e.tb.Helper()
	e.rt.Close()
	rt, err := runtime.New(context.Background(), e.cfg)
	if err != nil {
		e.tb.Fatalf("New after restart: %v", err)
	}
	e.rt = rt
}

// sandbox runs a sandbox for a new pod.
func (e *testEnv) sandbox(name string, ports ...runtime.PortMapping) *runtime.Sandbox {
	e.tb.Helper()
	sb, err := e.rt.RunSandbox(context.Background(), runtime.SandboxConfig{
		UID: newUID(), Name: name, Namespace: "default", PortMappings: ports,
	})
	if err != nil {
		e.tb.Fatalf("RunSandbox(%s): %v", name, err)
	}
	return sb
}

// stopSandbox stops a sandbox with the current runtime, failing the test on error.
func (e *testEnv) stopSandbox(uid string) {
	e.tb.Helper()
	if err := e.rt.StopSandbox(context.Background(), uid); err != nil {
		e.tb.Errorf("StopSandbox(%s): %v", uid, err)
	}
}

// container returns a ContainerConfig running args in the test image.
func (e *testEnv) container(sb *runtime.Sandbox, name string, attempt uint32, args ...string) runtime.ContainerConfig {
	return runtime.ContainerConfig{
		Name: name, Attempt: attempt, Image: e.image, Command: args, Hostname: sb.Name,
		LogPath: runtime.LogPath(filepath.Join(e.dir, "logs"), sb.Namespace, sb.Name, sb.UID, name, attempt),
	}
}

// start creates and starts a container.
func (e *testEnv) start(sb *runtime.Sandbox, cfg runtime.ContainerConfig) string {
	e.tb.Helper()
	ctx := context.Background()
	id, err := e.rt.CreateContainer(ctx, sb, cfg)
	if err != nil {
		e.tb.Fatalf("CreateContainer(%s): %v", cfg.Name, err)
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		e.tb.Fatalf("StartContainer(%s): %v", id, err)
	}
	return id
}

// waitExited waits for a container to exit and returns its status.
func (e *testEnv) waitExited(id string) runtime.ContainerStatus {
	e.tb.Helper()
	var st runtime.ContainerStatus
	waitFor(e.tb, 30*time.Second, id+" to exit", func() bool {
		var err error
		st, err = e.rt.ContainerStatus(context.Background(), id)
		if err != nil {
			e.tb.Fatalf("ContainerStatus(%s): %v", id, err)
		}
		return st.State == runtime.ContainerExited
	})
	return st
}

// logs returns a container's whole log.
func (e *testEnv) logs(id string) string {
	var b bytes.Buffer
	if err := e.rt.Logs(context.Background(), id, runtime.LogOptions{}, &b); err != nil {
		e.tb.Fatalf("Logs(%s): %v", id, err)
	}
	return b.String()
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUID() string {
	b := randHex(16)
	return b[0:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:32]
}

// freeSubnet picks a /24 in 10.200.0.0/13 that no local interface uses.
func freeSubnet(tb testing.TB) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		b := make([]byte, 2)
		rand.Read(b)
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", 200+int(b[0])%8, b[1]))
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
	tb.Fatal("no free subnet")
	return ""
}

// freePort returns a TCP port nobody listens on now.
func freePort(tb testing.TB) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// httpGet fetches url with a short timeout.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// lockedBuffer is a bytes.Buffer for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestContainerd drives a real containerd and the CNI plugins through the Runtime.
func TestContainerd(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()

	t.Run("version", func(t *testing.T) {
		name, version, err := e.rt.Version(ctx)
		if err != nil || name != "containerd" || version == "" {
			t.Errorf("Version() = %q, %q, %v; want containerd, a version, nil", name, version, err)
		}
	})

	t.Run("images", func(t *testing.T) {
		tests := []struct {
			name    string
			image   string
			policy  corev1.PullPolicy
			wantErr error
		}{
			{name: "present, IfNotPresent", image: testimage.DefaultName, policy: corev1.PullIfNotPresent},
			{name: "present, Never", image: testimage.DefaultName, policy: corev1.PullNever},
			{name: "missing, Never", image: "capstan.local/missing:1", policy: corev1.PullNever, wantErr: runtime.ErrImageNeverPull},
			{name: "unreachable registry", image: "127.0.0.1:1/missing:1", policy: corev1.PullIfNotPresent, wantErr: runtime.ErrImagePull},
			{name: "present, Always, unreachable registry", image: testimage.DefaultName, policy: corev1.PullAlways, wantErr: runtime.ErrImagePull},
			{name: "invalid name", image: "UPPER/Case:1", policy: corev1.PullIfNotPresent, wantErr: runtime.ErrInvalidImageName},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				ref, err := e.rt.EnsureImage(ctx, tt.image, tt.policy, nil)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("EnsureImage(%s, %s) = %v; want %v", tt.image, tt.policy, err, tt.wantErr)
				}
				if err == nil && (ref != e.image || !strings.HasPrefix(ref.ID, "sha256:")) {
					t.Errorf("EnsureImage(%s) = %+v; want %+v", tt.image, ref, e.image)
				}
			})
		}
	})

	t.Run("pod", func(t *testing.T) {
		hostPort := freePort(t)
		sb := e.sandbox("web", runtime.PortMapping{ContainerPort: 80, HostPort: hostPort})
		if sb.State != runtime.SandboxReady || len(sb.IPs) == 0 {
			t.Fatalf("RunSandbox() = %+v; want a ready sandbox with an IP", sb)
		}
		again, err := e.rt.RunSandbox(ctx, runtime.SandboxConfig{UID: sb.UID, Name: sb.Name, Namespace: sb.Namespace})
		if err != nil || again.IPs[0] != sb.IPs[0] {
			t.Errorf("RunSandbox(same UID) = %+v, %v; want the same sandbox %v", again, err, sb.IPs)
		}
		t.Run("host port conflicts", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			bound := int32(l.Addr().(*net.TCPAddr).Port)
			for _, port := range []int32{hostPort, bound} {
				_, err := e.rt.RunSandbox(ctx, runtime.SandboxConfig{UID: newUID(), Name: "clash", Namespace: "default",
					PortMappings: []runtime.PortMapping{{ContainerPort: 80, HostPort: port}}})
				if !errors.Is(err, runtime.ErrHostPortInUse) {
					t.Errorf("RunSandbox(host port %d) = %v; want %v", port, err, runtime.ErrHostPortInUse)
				}
			}
		})
		web := e.start(sb, e.container(sb, "web", 0, "httpd", "-f", "-p", "80", "-h", testimage.WebRoot))
		client := e.start(sb, e.container(sb, "client", 0, "sh", "-c",
			`for i in $(seq 1 100); do if timeout 5 wget -qO- http://127.0.0.1:80/; then exit 0; fi; sleep 0.1; done; exit 1`))

		t.Run("shared network namespace", func(t *testing.T) {
			st := e.waitExited(client)
			if st.ExitCode != 0 || st.Reason != runtime.ReasonCompleted {
				t.Fatalf("client exited with %d (%s); want 0, log:\n%s", st.ExitCode, st.Reason, e.logs(client))
			}
			if got := e.logs(client); !strings.Contains(got, testimage.IndexHTML) {
				t.Errorf("client log = %q; want it to contain %q", got, testimage.IndexHTML)
			}
		})
		t.Run("pod IP from the host", func(t *testing.T) {
			var body string
			waitFor(t, 10*time.Second, "http://"+sb.IPs[0], func() bool {
				var err error
				body, err = httpGet("http://" + sb.IPs[0] + "/")
				return err == nil
			})
			if body != testimage.IndexHTML {
				t.Errorf("GET pod IP = %q; want %q", body, testimage.IndexHTML)
			}
		})
		t.Run("host port", func(t *testing.T) {
			url := fmt.Sprintf("http://127.0.0.1:%d/", hostPort)
			var body string
			waitFor(t, 10*time.Second, url, func() bool {
				var err error
				body, err = httpGet(url)
				return err == nil
			})
			if body != testimage.IndexHTML {
				t.Errorf("GET %s = %q; want %q", url, body, testimage.IndexHTML)
			}
		})
		t.Run("port-forward", func(t *testing.T) {
			local, remote := net.Pipe()
			done := make(chan error, 1)
			go func() { done <- e.rt.PortForward(ctx, sb.UID, 80, remote) }()
			io.WriteString(local, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
			resp, err := io.ReadAll(local)
			if err != nil {
				t.Fatalf("reading the forwarded response: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("PortForward() = %v", err)
			}
			if !strings.HasPrefix(string(resp), "HTTP/1.") || !strings.HasSuffix(string(resp), testimage.IndexHTML) {
				t.Errorf("forwarded response = %q; want an HTTP response with %q", resp, testimage.IndexHTML)
			}
			if err := e.rt.PortForward(ctx, sb.UID, 81, nopConn{}); err == nil {
				t.Errorf("PortForward(closed port) = nil; want an error")
			}
		})
		t.Run("exec", func(t *testing.T) {
			tests := []struct {
				name       string
				cmd        []string
				stdin      string
				tty        bool
				wantCode   int
				wantStdout string
				wantStderr string
			}{
				{name: "output and exit code", cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, wantCode: 3, wantStdout: "out\n", wantStderr: "err\n"},
				{name: "stdin", cmd: []string{"cat"}, stdin: "abc\n", wantStdout: "abc\n"},
				{name: "same network", cmd: []string{"sh", "-c", "timeout 5 wget -qO- http://127.0.0.1/"}, wantStdout: testimage.IndexHTML},
				{name: "hostname", cmd: []string{"hostname"}, wantStdout: "web\n"},
				{name: "tty", cmd: []string{"tty"}, tty: true, wantStdout: "/dev/pts/0\r\n"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var out, errb bytes.Buffer
					s := runtime.Streams{Stdout: &out, Stderr: &errb, TTY: tt.tty}
					if tt.stdin != "" {
						s.Stdin = strings.NewReader(tt.stdin)
					}
					code, err := e.rt.Exec(ctx, web, tt.cmd, s)
					if err != nil || code != tt.wantCode || out.String() != tt.wantStdout || errb.String() != tt.wantStderr {
						t.Errorf("Exec(%q) = %d, %v, stdout %q, stderr %q; want %d, nil, %q, %q",
							tt.cmd, code, err, out.String(), errb.String(), tt.wantCode, tt.wantStdout, tt.wantStderr)
					}
				})
			}
			if _, err := e.rt.Exec(ctx, client, []string{"true"}, runtime.Streams{}); !errors.Is(err, runtime.ErrNotRunning) {
				t.Errorf("Exec(exited container) = %v; want %v", err, runtime.ErrNotRunning)
			}
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			if _, err := e.rt.Exec(ctx, web, []string{"sleep", "60"}, runtime.Streams{}); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Exec(sleep past the deadline) = %v; want %v", err, context.DeadlineExceeded)
			}
		})
		t.Run("list", func(t *testing.T) {
			cs, err := e.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: sb.UID})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cs {
				got = append(got, fmt.Sprintf("%s/%d %s", c.Name, c.Attempt, c.State))
			}
			want := []string{"client/0 Exited", "web/0 Running"}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("ListContainers(pod) = %v; want %v", got, want)
			}
		})
		if err := e.rt.StopSandbox(ctx, sb.UID); err != nil {
			t.Fatalf("StopSandbox: %v", err)
		}
		st, err := e.rt.ContainerStatus(ctx, web)
		if err != nil || st.State != runtime.ContainerExited || st.ExitCode != 137 {
			t.Errorf("web after StopSandbox = %+v, %v; want exited with 137", st, err)
		}
		if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hostPort)); err == nil {
			t.Errorf("host port %d still answers after StopSandbox", hostPort)
		}
	})

	t.Run("spec", func(t *testing.T) {
		sb := e.sandbox("spec")
		defer e.stopSandbox(sb.UID)
		vol := t.TempDir()
		if err := os.WriteFile(filepath.Join(vol, "data"), []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := e.container(sb, "spec", 0, "sleep", "3600")
		cfg.Env = []runtime.EnvVar{{Name: "GREETING", Value: "hello world"}}
		cfg.WorkingDir = "/tmp"
		cfg.Mounts = []runtime.Mount{{HostPath: vol, ContainerPath: "/data", ReadOnly: true}}
		uid, gid := int64(65534), int64(65534)
		cfg.RunAsUser, cfg.RunAsGroup = &uid, &gid
		cfg.Resources = runtime.Resources{CPURequestMillis: 500, CPULimitMillis: 200, MemoryLimitBytes: 64 << 20}
		cfg.Labels = map[string]string{"capstan.io/spec-hash": "abc"}
		id := e.start(sb, cfg)
		tests := []struct {
			name string
			cmd  string
			want string
		}{
			{name: "env", cmd: `echo "$GREETING"`, want: "hello world\n"},
			{name: "image env", cmd: `echo "$PATH"`, want: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"},
			{name: "working dir", cmd: "pwd", want: "/tmp\n"},
			{name: "user", cmd: "id -u; id -g", want: "65534\n65534\n"},
			{name: "read mount", cmd: "cat /data/data", want: "from the host\n"},
			{name: "read-only mount", cmd: "touch /data/x 2>/dev/null || echo read-only", want: "read-only\n"},
			{name: "hostname", cmd: "hostname; echo $HOSTNAME", want: "spec\nspec\n"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var out bytes.Buffer
				code, err := e.rt.Exec(ctx, id, []string{"sh", "-c", tt.cmd}, runtime.Streams{Stdout: &out})
				if err != nil || code != 0 || out.String() != tt.want {
					t.Errorf("Exec(%q) = %d, %v, %q; want 0, nil, %q", tt.cmd, code, err, out.String(), tt.want)
				}
			})
		}
		cgroup := filepath.Join(e.cfg.CgroupParent, "pod"+sb.UID, id)
		for file, want := range map[string]string{
			"cpu/cpu.cfs_quota_us":         "20000",
			"cpu/cpu.shares":               "512",
			"memory/memory.limit_in_bytes": "67108864",
		} {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", filepath.Dir(file), cgroup, filepath.Base(file)))
			if os.IsNotExist(err) {
				t.Skipf("no cgroup v1 file %s: not a cgroup v1 host", file)
			}
			if got := strings.TrimSpace(string(b)); err != nil || got != want {
				t.Errorf("%s of the container = %q, %v; want %q", file, got, err, want)
			}
		}
		st, err := e.rt.ContainerStatus(ctx, id)
		if err != nil || st.Labels["capstan.io/spec-hash"] != "abc" || len(st.Labels) != 1 {
			t.Errorf("status labels = %v, %v; want only the user's label", st.Labels, err)
		}
	})

	t.Run("logs", func(t *testing.T) {
		sb := e.sandbox("logs")
		id := e.start(sb, e.container(sb, "logger", 0, "sh", "-c",
			`for i in 1 2 3 4 5; do echo line$i; done; printf partial; exec sleep 3600`))
		waitFor(t, 10*time.Second, "the log", func() bool { return strings.Contains(e.logs(id), "partial") })
		tail := func(n int64) *int64 { return &n }
		tests := []struct {
			name string
			opts runtime.LogOptions
			want string // a regular expression
		}{
			{name: "tail", opts: runtime.LogOptions{TailLines: tail(1)}, want: `^partial$`},
			{name: "tail 0", opts: runtime.LogOptions{TailLines: tail(0)}, want: `^$`},
			{name: "all", opts: runtime.LogOptions{}, want: `^line1\nline2\nline3\nline4\nline5\npartial$`},
			{name: "timestamps", opts: runtime.LogOptions{TailLines: tail(1), Timestamps: true}, want: `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z partial$`},
			{name: "since the future", opts: runtime.LogOptions{Since: time.Now().Add(time.Hour)}, want: `^$`},
			{name: "limit", opts: runtime.LogOptions{LimitBytes: 8}, want: `^line1\nli$`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var b bytes.Buffer
				if err := e.rt.Logs(ctx, id, tt.opts, &b); err != nil {
					t.Fatal(err)
				}
				if !regexpMatch(tt.want, b.String()) {
					t.Errorf("Logs(%+v) = %q; want match for %q", tt.opts, b.String(), tt.want)
				}
			})
		}
		t.Run("streams", func(t *testing.T) {
			// stdout and stderr reach the logger through separate pipes, so their relative order
			// is not kept; each record names its stream.
			id := e.start(sb, e.container(sb, "streams", 0, "sh", "-c", "echo out; echo err >&2"))
			e.waitExited(id)
			b, err := os.ReadFile(e.container(sb, "streams", 0).LogPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`(?m)^\S+ stdout F out$`, `(?m)^\S+ stderr F err$`} {
				if !regexpMatch(want, string(b)) {
					t.Errorf("log file %q does not match %q", b, want)
				}
			}
		})
		t.Run("follow", func(t *testing.T) {
			var out lockedBuffer
			done := make(chan error, 1)
			go func() { done <- e.rt.Logs(ctx, id, runtime.LogOptions{Follow: true, TailLines: tail(1)}, &out) }()
			waitFor(t, 10*time.Second, "the followed tail", func() bool { return out.String() == "partial" })
			var out2 bytes.Buffer
			code, err := e.rt.Exec(ctx, id, []string{"sh", "-c", "echo more > /proc/1/fd/1"}, runtime.Streams{Stdout: &out2})
			if err != nil || code != 0 {
				t.Fatalf("Exec(write to PID 1's stdout) = %d, %v", code, err)
			}
			waitFor(t, 10*time.Second, "the followed new line", func() bool { return out.String() == "partialmore\n" })
			if err := e.rt.StopContainer(ctx, id, 0); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Logs(follow) = %v after the container exited", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Logs(follow) did not return after the container exited")
			}
		})
		if err := e.rt.StopSandbox(ctx, sb.UID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stop", func(t *testing.T) {
		sb := e.sandbox("stop")
		defer e.stopSandbox(sb.UID)
		tests := []struct {
			name     string
			args     []string
			grace    time.Duration
			wantCode int32
			minTime  time.Duration
		}{
			// busybox sleep as PID 1 has no handler, so the kernel ignores SIGTERM (pitfall 5).
			{name: "ignores SIGTERM", args: []string{"sleep", "3600"}, grace: time.Second, wantCode: 137, minTime: time.Second},
			{name: "handles SIGTERM", args: []string{"sh", "-c", `trap "exit 7" TERM; while true; do sleep 0.1; done`}, grace: 30 * time.Second, wantCode: 7},
			{name: "no grace", args: []string{"sleep", "3600"}, wantCode: 137},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := e.start(sb, e.container(sb, fmt.Sprintf("c%d", i), 0, tt.args...))
				// Give the shell time to install its trap: wait for a child sleep.
				waitFor(t, 10*time.Second, "the container to run", func() bool {
					code, err := e.rt.Exec(ctx, id, []string{"true"}, runtime.Streams{})
					return err == nil && code == 0
				})
				start := time.Now()
				if err := e.rt.StopContainer(ctx, id, tt.grace); err != nil {
					t.Fatalf("StopContainer: %v", err)
				}
				took := time.Since(start)
				st, err := e.rt.ContainerStatus(ctx, id)
				if err != nil || st.State != runtime.ContainerExited || st.ExitCode != tt.wantCode || took < tt.minTime {
					t.Errorf("after StopContainer(%s) in %s: %+v, %v; want exited with %d after at least %s", tt.grace, took, st, err, tt.wantCode, tt.minTime)
				}
				if err := e.rt.StopContainer(ctx, id, time.Second); err != nil {
					t.Errorf("StopContainer(stopped) = %v; want nil", err)
				}
			})
		}
	})

	t.Run("oom", func(t *testing.T) {
		sb := e.sandbox("oom")
		defer e.stopSandbox(sb.UID)
		tests := []struct {
			name     string
			args     []string
			wantCode int32
		}{
			{name: "main process", args: []string{"tail", "-c", "200000000", "/dev/zero"}, wantCode: 137},
			// The kernel kills the child; the shell survives and exits 0 (pitfall 6).
			{name: "child process", args: []string{"sh", "-c", "tail -c 200000000 /dev/zero; exit 0"}, wantCode: 0},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cfg := e.container(sb, fmt.Sprintf("oom%d", i), 0, tt.args...)
				cfg.Resources.MemoryLimitBytes = 32 << 20
				id := e.start(sb, cfg)
				st := e.waitExited(id)
				if !st.OOMKilled || st.Reason != runtime.ReasonOOMKilled || st.ExitCode != tt.wantCode {
					t.Errorf("status = %+v; want OOMKilled, reason %s, exit code %d", st, runtime.ReasonOOMKilled, tt.wantCode)
				}
			})
		}
	})

	t.Run("restart attempts", func(t *testing.T) {
		sb := e.sandbox("restarts")
		defer e.stopSandbox(sb.UID)
		script := `if test -e /tmp/marker; then echo reused; else echo fresh; fi; touch /tmp/marker; exit 3`
		var ids []string
		for attempt := uint32(0); attempt < 3; attempt++ {
			id := e.start(sb, e.container(sb, "crash", attempt, "sh", "-c", script))
			st := e.waitExited(id)
			if st.ExitCode != 3 || st.Reason != runtime.ReasonError || st.Attempt != attempt || st.FinishedAt.Before(st.StartedAt) {
				t.Errorf("attempt %d: status %+v; want exit 3, reason Error, finished after started", attempt, st)
			}
			ids = append(ids, id)
		}
		if ids[0] == ids[1] || ids[1] == ids[2] {
			t.Errorf("attempts share IDs: %v", ids)
		}
		for i, id := range ids {
			if got := e.logs(id); got != "fresh\n" {
				t.Errorf("log of attempt %d = %q; want %q (a fresh root filesystem, the log kept)", i, got, "fresh\n")
			}
		}
		if _, err := e.rt.CreateContainer(ctx, sb, e.container(sb, "crash", 1, "true")); !errors.Is(err, runtime.ErrAlreadyExists) {
			t.Errorf("CreateContainer(existing attempt) = %v; want %v", err, runtime.ErrAlreadyExists)
		}
		if err := e.rt.RemoveContainer(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(e.container(sb, "crash", 0).LogPath); !os.IsNotExist(err) {
			t.Errorf("log of a removed container: stat = %v; want not exist", err)
		}
		if _, err := e.rt.ContainerStatus(ctx, ids[0]); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ContainerStatus(removed) = %v; want %v", err, runtime.ErrNotFound)
		}
	})

	t.Run("events", func(t *testing.T) {
		sb := e.sandbox("events")
		defer e.stopSandbox(sb.UID)
		cfg := e.container(sb, "oom", 0, "tail", "-c", "200000000", "/dev/zero")
		cfg.Resources.MemoryLimitBytes = 32 << 20
		id := e.start(sb, cfg)
		seen := map[runtime.EventType]runtime.Event{}
		deadline := time.After(30 * time.Second)
		for seen[runtime.EventContainerExited].ContainerID == "" {
			select {
			case ev := <-e.rt.Events():
				if ev.ContainerID == id {
					seen[ev.Type] = ev
				}
			case <-deadline:
				t.Fatalf("no exit event for %s; saw %v", id, seen)
			}
		}
		if ev := seen[runtime.EventContainerOOM]; ev.PodUID != sb.UID {
			t.Errorf("OOM event = %+v; want one for pod %s", ev, sb.UID)
		}
		if ev := seen[runtime.EventContainerExited]; ev.PodUID != sb.UID || ev.ExitCode != 137 {
			t.Errorf("exit event = %+v; want pod %s, exit code 137", ev, sb.UID)
		}
		// The exit event comes after finalisation: the status is final.
		if st, err := e.rt.ContainerStatus(ctx, id); err != nil || !st.OOMKilled {
			t.Errorf("status after the exit event = %+v, %v; want OOMKilled", st, err)
		}
	})

	t.Run("attach", func(t *testing.T) {
		sb := e.sandbox("attach")
		defer e.stopSandbox(sb.UID)
		t.Run("tty", func(t *testing.T) {
			cfg := e.container(sb, "shell", 0, "sh")
			cfg.TTY, cfg.Stdin = true, true
			id := e.start(sb, cfg)
			pr, pw := io.Pipe()
			defer pw.Close()
			var out lockedBuffer
			done := make(chan error, 1)
			go func() { done <- e.rt.Attach(ctx, id, runtime.Streams{Stdin: pr, Stdout: &out, TTY: true}) }()
			io.WriteString(pw, "echo $((6*7))\n")
			waitFor(t, 10*time.Second, "the shell's answer", func() bool { return strings.Contains(out.String(), "42\r\n") })
			io.WriteString(pw, "exit 5\n")
			if err := <-done; err != nil {
				t.Errorf("Attach() = %v after the shell exited", err)
			}
			if st := e.waitExited(id); st.ExitCode != 5 {
				t.Errorf("shell exited with %d; want 5", st.ExitCode)
			}
		})
		t.Run("stdin once", func(t *testing.T) {
			cfg := e.container(sb, "cat", 0, "cat")
			cfg.Stdin, cfg.StdinOnce = true, true
			id := e.start(sb, cfg)
			var out lockedBuffer
			err := e.rt.Attach(ctx, id, runtime.Streams{Stdin: strings.NewReader("hello\n"), Stdout: &out})
			if err != nil || out.String() != "hello\n" {
				t.Errorf("Attach() = %v, output %q; want nil, %q", err, out.String(), "hello\n")
			}
			if st := e.waitExited(id); st.ExitCode != 0 || e.logs(id) != "hello\n" {
				t.Errorf("cat exited with %d, log %q; want 0 and %q", st.ExitCode, e.logs(id), "hello\n")
			}
		})
	})

	t.Run("agent restart", func(t *testing.T) {
		sb := e.sandbox("recovery")
		defer e.stopSandbox(sb.UID)
		long := e.start(sb, e.container(sb, "long", 0, "sleep", "3600"))
		short := e.start(sb, e.container(sb, "short", 0, "sh", "-c", `while ! test -e /tmp/go; do sleep 0.05; done; exit 42`))
		catCfg := e.container(sb, "cat", 0, "cat")
		catCfg.Stdin = true
		cat := e.start(sb, catCfg)
		before, err := e.rt.ContainerStatus(ctx, long)
		if err != nil {
			t.Fatal(err)
		}
		shortSt, err := e.rt.ContainerStatus(ctx, short)
		if err != nil {
			t.Fatal(err)
		}
		// One shim serves the whole pod: the containers' main processes share their parent.
		if a, b := ppid(t, before.PID), ppid(t, shortSt.PID); a != b {
			t.Errorf("parents of two containers of one pod = %d, %d; want one shim", a, b)
		}
		e.rt.Close()
		// While the agent is down, one container exits: reach its root filesystem through /proc.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/root/tmp/go", shortSt.PID), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "short to exit", func() bool { return syscall.Kill(int(shortSt.PID), 0) != nil })
		rt, err := runtime.New(ctx, e.cfg)
		if err != nil {
			t.Fatalf("New after restart: %v", err)
		}
		e.rt = rt
		sbs, err := e.rt.ListSandboxes(ctx)
		if err != nil || len(sbs) != 1 || sbs[0].UID != sb.UID || sbs[0].State != runtime.SandboxReady {
			t.Errorf("ListSandboxes() = %v, %v; want the ready sandbox %s", sbs, err, sb.UID)
		}
		cs, err := e.rt.ListContainers(ctx, runtime.ContainerFilter{PodUID: sb.UID})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]runtime.ContainerStatus{}
		for _, c := range cs {
			got[c.ID] = c
		}
		if st := got[long]; st.State != runtime.ContainerRunning || st.PID != before.PID || !st.StartedAt.Equal(before.StartedAt) {
			t.Errorf("long after restart = %+v; want running with PID %d", st, before.PID)
		}
		if st := got[short]; st.State != runtime.ContainerExited || st.ExitCode != 42 {
			t.Errorf("short after restart = %+v; want exited with 42", st)
		}
		// The restarted agent reconnected the stdin and output of the container without a TTY.
		var out lockedBuffer
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- e.rt.Attach(actx, cat, runtime.Streams{Stdin: strings.NewReader("after restart\n"), Stdout: &out})
		}()
		waitFor(t, 10*time.Second, "cat's echo", func() bool { return strings.Contains(out.String(), "after restart\n") })
		cancel()
		<-done
	})

	t.Run("containerd restart", func(t *testing.T) {
		sb := e.sandbox("daemon")
		defer e.stopSandbox(sb.UID)
		id := e.start(sb, e.container(sb, "long", 0, "sh", "-c", `while ! test -e /tmp/go; do sleep 0.05; done; exit 9`))
		before, err := e.rt.ContainerStatus(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.daemon.Close(); err != nil {
			t.Fatal(err)
		}
		vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err = e.rt.Version(vctx)
		cancel()
		if !errors.Is(err, runtime.ErrUnavailable) {
			t.Errorf("Version() with containerd down = %v; want %v", err, runtime.ErrUnavailable)
		}
		d, err := runtime.StartDaemon(ctx, e.daemon.Dir())
		if err != nil {
			t.Fatalf("StartDaemon(again): %v", err)
		}
		e.daemon = d
		adopted, err := runtime.StartDaemon(ctx, e.daemon.Dir())
		if err != nil || adopted.PID() != d.PID() {
			t.Errorf("StartDaemon(running) = pid %d, %v; want to adopt pid %d", adopted.PID(), err, d.PID())
		}
		waitFor(t, 30*time.Second, "the runtime to reconnect", func() bool {
			st, err := e.rt.ContainerStatus(ctx, id)
			return err == nil && st.State == runtime.ContainerRunning && st.PID == before.PID
		})
		// Once the event stream is back, the runtime says so with a resync; exits from then on are
		// reported.
		resync := time.After(30 * time.Second)
		for waiting := true; waiting; {
			select {
			case ev := <-e.rt.Events():
				waiting = ev.Type != runtime.EventResync
			case <-resync:
				t.Fatalf("no resync event after the containerd restart")
			}
		}
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/root/tmp/go", before.PID), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev := <-e.rt.Events():
				if ev.Type == runtime.EventContainerExited && ev.ContainerID == id {
					if ev.ExitCode != 9 {
						t.Errorf("exit event = %+v; want exit code 9", ev)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no exit event after the containerd restart")
			}
		}
	})

	t.Run("sandbox without its namespace", func(t *testing.T) {
		sb := e.sandbox("reboot")
		// A reboot empties /run: the namespace disappears, the record stays.
		if err := exec.Command("umount", sb.NetNSPath).Run(); err != nil {
			t.Fatalf("umount %s: %v", sb.NetNSPath, err)
		}
		os.Remove(sb.NetNSPath)
		sbs, err := e.rt.ListSandboxes(ctx)
		if err != nil || len(sbs) != 1 || sbs[0].State != runtime.SandboxNotReady {
			t.Fatalf("ListSandboxes() = %v, %v; want one NotReady sandbox", sbs, err)
		}
		if _, err := e.rt.CreateContainer(ctx, sb, e.container(sb, "c", 0, "true")); !errors.Is(err, runtime.ErrSandboxNotReady) {
			t.Errorf("CreateContainer(no namespace) = %v; want %v", err, runtime.ErrSandboxNotReady)
		}
		again, err := e.rt.RunSandbox(ctx, runtime.SandboxConfig{UID: sb.UID, Name: sb.Name, Namespace: sb.Namespace})
		if err != nil || again.State != runtime.SandboxReady {
			t.Fatalf("RunSandbox(after reboot) = %+v, %v; want a ready sandbox", again, err)
		}
		if err := exec.Command("umount", again.NetNSPath).Run(); err != nil {
			t.Fatalf("umount %s: %v", again.NetNSPath, err)
		}
		os.Remove(again.NetNSPath)
		if err := e.rt.StopSandbox(ctx, sb.UID); err != nil {
			t.Fatalf("StopSandbox(no namespace) = %v", err)
		}
		ipam, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "ipam", e.cfg.Network.Name, "10.*"))
		if len(ipam) != 0 {
			t.Errorf("IP addresses still reserved after StopSandbox: %v", ipam)
		}
		if sbs, _ := e.rt.ListSandboxes(ctx); len(sbs) != 0 {
			t.Errorf("ListSandboxes() after StopSandbox = %v; want none", sbs)
		}
	})

	t.Run("cleanup", func(t *testing.T) {
		sbs, _ := e.rt.ListSandboxes(ctx)
		for _, sb := range sbs {
			if err := e.rt.StopSandbox(ctx, sb.UID); err != nil {
				t.Errorf("StopSandbox(%s): %v", sb.UID, err)
			}
		}
		if dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + e.cfg.CgroupParent + "/pod*"); len(dirs) != 0 {
			t.Errorf("pod cgroups left after StopSandbox: %v", dirs)
		}
	})
}

// ppid returns the parent PID of pid.
func ppid(t *testing.T, pid uint32) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name is in parentheses and may contain spaces: the fields follow the last ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var p int
	fmt.Sscan(fields[1], &p)
	return p
}

// regexpMatch reports whether s matches the regular expression re.
func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// nopConn is a connection that is closed from the start.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
func (nopConn) Close() error                { return nil }
