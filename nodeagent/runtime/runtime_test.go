package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/identifiers"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // substring; empty means valid
	}{
		{name: "default", mutate: func(*Config) {}},
		{name: "relative state dir", mutate: func(c *Config) { c.StateDir = "state" }, wantErr: `state directory "state"`},
		{name: "CRI namespace", mutate: func(c *Config) { c.Namespace = "k8s.io" }, wantErr: `"k8s.io"`},
		{name: "bad namespace", mutate: func(c *Config) { c.Namespace = "a b" }, wantErr: `namespace "a b"`},
		{name: "relative cgroup", mutate: func(c *Config) { c.CgroupParent = "capstan" }, wantErr: `cgroup parent "capstan"`},
		{name: "long bridge", mutate: func(c *Config) { c.Network.Bridge = "a-very-long-bridge" }, wantErr: `bridge "a-very-long-bridge"`},
		{name: "bad subnet", mutate: func(c *Config) { c.Network.Subnet = "10.0.0.0/33" }, wantErr: `subnet "10.0.0.0/33"`},
		{name: "IPv6 subnet", mutate: func(c *Config) { c.Network.Subnet = "fd00::/64" }, wantErr: `IPv4`},
		{name: "conflist", mutate: func(c *Config) {
			c.Network.ConfList = []byte(`{"name":"x","plugins":[{"type":"ptp"}]}`)
			c.Network.Bridge = ""
		}},
		{name: "bad conflist", mutate: func(c *Config) { c.Network.ConfList = []byte(`{"name":"x"}`) }, wantErr: "needs a name and plugins"},
		{name: "every problem", mutate: func(c *Config) { c.Address = ""; c.DialTimeout = 0 }, wantErr: "dial timeout 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v; want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestContainerID(t *testing.T) {
	tests := []struct {
		name, pod, ctr string
		attempt        uint32
		wantPrefix     string
	}{
		{name: "plain", pod: "u1", ctr: "web", attempt: 0, wantPrefix: "web-0-"},
		{name: "dashes collapse", pod: "u1", ctr: "a--b", attempt: 3, wantPrefix: "a-b-3-"},
		{name: "long name", pod: "u1", ctr: strings.Repeat("x", 63), attempt: 4294967295, wantPrefix: strings.Repeat("x", 40) + "-4294967295-"},
		{name: "odd characters", pod: "u1", ctr: ".Web_1.", attempt: 1, wantPrefix: "web-1-1-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ContainerID(tt.pod, tt.ctr, tt.attempt)
			if !strings.HasPrefix(id, tt.wantPrefix) || len(id) != len(tt.wantPrefix)+12 {
				t.Errorf("ContainerID(%q, %q, %d) = %q; want %q + 12 hex digits", tt.pod, tt.ctr, tt.attempt, id, tt.wantPrefix)
			}
			if err := identifiers.Validate(id); err != nil {
				t.Errorf("ContainerID(%q, %q, %d) = %q is not a containerd ID: %v", tt.pod, tt.ctr, tt.attempt, id, err)
			}
			if ContainerID("other", tt.ctr, tt.attempt) == id {
				t.Errorf("ContainerID ignores the pod UID")
			}
		})
	}
}

func TestLogPath(t *testing.T) {
	got := LogPath("/var/log/pods", "default", "web", "u1", "nginx", 2)
	if want := "/var/log/pods/default_web_u1/nginx/2.log"; got != want {
		t.Errorf("LogPath() = %q; want %q", got, want)
	}
}

func TestNormalizeImage(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "capstan.local/busybox:1.35", want: "capstan.local/busybox:1.35"},
		{in: "registry:5000/a/b@sha256:" + strings.Repeat("a", 64), want: "registry:5000/a/b@sha256:" + strings.Repeat("a", 64)},
		{in: "UPPER", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeImage(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidImageName) {
					t.Errorf("NormalizeImage(%q) = %q, %v; want %v", tt.in, got, err, ErrInvalidImageName)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeImage(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		image  string
		policy corev1.PullPolicy
		want   corev1.PullPolicy
	}{
		{"busybox", "", corev1.PullAlways},
		{"busybox:latest", "", corev1.PullAlways},
		{"busybox:1.36", "", corev1.PullIfNotPresent},
		{"busybox@sha256:" + strings.Repeat("a", 64), "", corev1.PullIfNotPresent},
		{"busybox", corev1.PullNever, corev1.PullNever},
	}
	for _, tt := range tests {
		if got := pullPolicy(tt.image, tt.policy); got != tt.want {
			t.Errorf("pullPolicy(%q, %q) = %q; want %q", tt.image, tt.policy, got, tt.want)
		}
	}
}

func TestParseDockerConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []RegistryAuth
		wantErr bool
	}{
		{name: "dockerconfigjson", in: `{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},"reg:5000":{"username":"u","password":"p"}}}`,
			want: []RegistryAuth{{Host: "docker.io", Username: "user", Password: "pass"}, {Host: "reg:5000", Username: "u", Password: "p"}}},
		{name: "dockercfg", in: `{"quay.io":{"identitytoken":"tok"}}`, want: []RegistryAuth{{Host: "quay.io", IdentityToken: "tok"}}},
		{name: "bad auth", in: `{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}`, wantErr: true},
		{name: "not json", in: `x`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerConfig([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDockerConfig() error = %v; want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDockerConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSameRegistry(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"docker.io", "registry-1.docker.io", true},
		{"https://index.docker.io/v1/", "registry-1.docker.io", true},
		{"reg:5000", "reg:5000", true},
		{"reg:5000", "reg", false},
	}
	for _, tt := range tests {
		if got := sameRegistry(tt.a, tt.b); got != tt.want {
			t.Errorf("sameRegistry(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestConfList(t *testing.T) {
	n := DefaultConfig().Network
	n.Subnet = "10.88.0.0/16"
	bridge := func(masq bool) string {
		return fmt.Sprintf(`{"type":"bridge","bridge":"capstan0","isGateway":true,"ipMasq":%v,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/var/lib/capstan/runtime/ipam"}}`, masq)
	}
	const portmap = `{"type":"portmap","capabilities":{"portMappings":true},"snat":true}`
	for _, tc := range []struct {
		name                string
		masqPerPod, portmap bool
		plugins             string
	}{
		{"plain", false, false, bridge(false)},
		{"ports", false, true, bridge(false) + "," + portmap},
		{"legacy", true, true, bridge(true) + "," + portmap},
	} {
		b, err := n.confList("/var/lib/capstan/runtime/ipam", tc.masqPerPod, tc.portmap)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"cniVersion":"1.0.0","name":"capstan","plugins":[` + tc.plugins + `]}`
		if string(b) != want {
			t.Errorf("%s: confList() =\n%s\nwant\n%s", tc.name, b, want)
		}
		if !json.Valid(b) {
			t.Errorf("%s: confList() is not JSON", tc.name)
		}
	}
}

func TestVariant(t *testing.T) {
	if v := variant(nil); v != networkPlain {
		t.Errorf("variant(no ports) = %q, want %q", v, networkPlain)
	}
	if v := variant([]PortMapping{{HostPort: 8080, ContainerPort: 80}}); v != networkPorts {
		t.Errorf("variant(host port) = %q, want %q", v, networkPorts)
	}
	if _, err := (&podNetworks{}).of("bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf(`of("bogus") = %v; want an error naming the variant`, err)
	}
}

func TestMasqueradeRules(t *testing.T) {
	n := DefaultConfig().Network
	n.Subnet = "10.244.3.0/24"
	got, err := masqueradeRules(n)
	if err != nil {
		t.Fatal(err)
	}
	want := "*nat\n:CAPSTAN-MASQ-capstan0 - [0:0]\n" +
		"-A CAPSTAN-MASQ-capstan0 ! -s 10.244.3.0/24 -j RETURN\n" +
		"-A CAPSTAN-MASQ-capstan0 -d 10.244.3.0/24 -j RETURN\n" +
		"-A CAPSTAN-MASQ-capstan0 -d 224.0.0.0/4 -j RETURN\n" +
		"-A CAPSTAN-MASQ-capstan0 -m comment --comment \"capstan pod network capstan\" -j MASQUERADE\n" +
		"COMMIT\n"
	if got != want {
		t.Errorf("masqueradeRules =\n%s\nwant\n%s", got, want)
	}
	n.Subnet = "bad"
	if _, err := masqueradeRules(n); err == nil || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("masqueradeRules(subnet bad) = %v; want an error naming it", err)
	}
}

func TestParseOOMKills(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
	}{
		{name: "v1", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", want: 2},
		{name: "v2", in: "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n", want: 1},
		{name: "old kernel", in: "oom_kill_disable 0\nunder_oom 0\n", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseOOMKills([]byte(tt.in)); got != tt.want {
				t.Errorf("parseOOMKills(%q) = %d; want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestContainerStatus(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	started := created.Add(time.Second)
	finished := started.Add(time.Second)
	base := map[string]string{
		labelPodUID: "u1", labelPodName: "p", labelPodNS: "ns", labelContainer: "c", labelAttempt: "2",
		labelLogPath: "/l/2.log", labelImageName: "img", labelImageID: "sha256:c", labelImageDgst: "sha256:m",
		"user": "label", "io.containerd.image.config.stop-signal": "SIGTERM",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	common := ContainerStatus{
		ID: "c-2-x", PodUID: "u1", PodName: "p", PodNamespace: "ns", Name: "c", Attempt: 2, CreatedAt: created,
		LogPath: "/l/2.log", Image: ImageRef{Name: "img", Digest: "sha256:m", ID: "sha256:c"}, Labels: map[string]string{"user": "label"},
	}
	want := func(f func(*ContainerStatus)) ContainerStatus {
		s := common
		f(&s)
		return s
	}
	tests := []struct {
		name   string
		labels map[string]string
		proc   *tasktypes.Process
		want   ContainerStatus
	}{
		{name: "created", labels: base, want: want(func(s *ContainerStatus) { s.State = ContainerCreated })},
		{name: "running", labels: with(map[string]string{labelStartedAt: started.Format(time.RFC3339Nano)}),
			proc: &tasktypes.Process{Status: tasktypes.Status_RUNNING, Pid: 42},
			want: want(func(s *ContainerStatus) { s.State, s.PID, s.StartedAt = ContainerRunning, 42, started })},
		{name: "stopped task", labels: with(map[string]string{labelStartedAt: started.Format(time.RFC3339Nano)}),
			proc: &tasktypes.Process{Status: tasktypes.Status_STOPPED, ExitStatus: 1, ExitedAt: timestamppb.New(finished)},
			want: want(func(s *ContainerStatus) {
				s.State, s.StartedAt, s.FinishedAt, s.ExitCode, s.Reason = ContainerExited, started, finished, 1, ReasonError
			})},
		{name: "finalised OOM", labels: with(map[string]string{
			labelStartedAt: started.Format(time.RFC3339Nano), labelFinishedAt: finished.Format(time.RFC3339Nano),
			labelExitCode: "0", labelOOMKilled: "true", labelReason: ReasonOOMKilled}),
			want: want(func(s *ContainerStatus) {
				s.State, s.StartedAt, s.FinishedAt, s.OOMKilled, s.Reason = ContainerExited, started, finished, true, ReasonOOMKilled
			})},
		{name: "task lost", labels: with(map[string]string{labelStartedAt: started.Format(time.RFC3339Nano)}),
			want: want(func(s *ContainerStatus) {
				s.State, s.StartedAt, s.ExitCode, s.Reason = ContainerExited, started, 255, ReasonUnknown
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerStatus(containers.Container{ID: "c-2-x", Labels: tt.labels, CreatedAt: created}, tt.proc)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("containerStatus() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateContainerConfig(t *testing.T) {
	sb := &Sandbox{UID: "u1"}
	ok := ContainerConfig{Name: "c", Image: ImageRef{Name: "img"}, LogPath: "/l/0.log"}
	tests := []struct {
		name    string
		mutate  func(*ContainerConfig)
		wantErr string
	}{
		{name: "valid", mutate: func(*ContainerConfig) {}},
		{name: "relative log", mutate: func(c *ContainerConfig) { c.LogPath = "0.log" }, wantErr: `log path "0.log"`},
		{name: "reserved label", mutate: func(c *ContainerConfig) { c.Labels = map[string]string{labelPodUID: "x"} }, wantErr: "reserved prefix"},
		{name: "relative mount", mutate: func(c *ContainerConfig) { c.Mounts = []Mount{{HostPath: "v", ContainerPath: "/v"}} }, wantErr: "must be absolute"},
		{name: "negative memory", mutate: func(c *ContainerConfig) { c.Resources.MemoryLimitBytes = -1 }, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := validateContainerConfig(sb, c)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("validateContainerConfig() = %v; want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidatePortMappings(t *testing.T) {
	tests := []struct {
		name    string
		in      []PortMapping
		wantErr bool
	}{
		{name: "tcp", in: []PortMapping{{ContainerPort: 80, HostPort: 8080}}},
		{name: "udp with host IP", in: []PortMapping{{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP, HostIP: "127.0.0.1"}}},
		{name: "zero host port", in: []PortMapping{{ContainerPort: 80}}, wantErr: true},
		{name: "bad protocol", in: []PortMapping{{ContainerPort: 80, HostPort: 80, Protocol: "ICMP"}}, wantErr: true},
		{name: "bad host IP", in: []PortMapping{{ContainerPort: 80, HostPort: 80, HostIP: "x"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validatePortMappings(tt.in); (err != nil) != tt.wantErr {
				t.Errorf("validatePortMappings(%+v) = %v; want error %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestSendDropsAndResyncs(t *testing.T) {
	r := &Containerd{events: make(chan Event, 2)}
	for i := 0; i < 4; i++ {
		r.send(Event{Type: EventContainerExited, ContainerID: string(rune('a' + i))})
	}
	// a and b fit; c and d are dropped and a resync is owed.
	got := []string{(<-r.events).ContainerID, (<-r.events).ContainerID}
	r.send(Event{Type: EventContainerExited, ContainerID: "e"})
	ev1, ev2 := <-r.events, <-r.events
	if got[0] != "a" || got[1] != "b" || ev1.Type != EventResync || ev2.ContainerID != "e" {
		t.Errorf("events = %v, %+v, %+v; want a, b, a resync, e", got, ev1, ev2)
	}
}

func TestDaemonConfig(t *testing.T) {
	d := &Daemon{dir: "/var/lib/capstan/containerd"}
	cfg := d.config()
	for _, want := range []string{
		`root = "/var/lib/capstan/containerd/root"`,
		`"io.containerd.grpc.v1.cri"`,
		`address = "/var/lib/capstan/containerd/containerd.sock"`,
		`address = "/var/lib/capstan/containerd/containerd.sock.ttrpc"`,
		`address = "/var/lib/capstan/containerd/debug.sock"`,
		`path = "/var/lib/capstan/containerd/opt"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("daemon config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestCheckHost(t *testing.T) {
	present := func() bool { return true }
	absent := func() bool { return false }
	err := checkHost([]hostCheck{
		{what: "containerd", pkg: "containerd", present: absent},
		{what: "containerd-shim-runc-v2", pkg: "containerd", present: absent},
		{what: "runc", pkg: "runc", present: present},
		{what: "CNI plugin bridge", pkg: "containernetworking-plugins", present: absent},
	})
	if !errors.Is(err, ErrHostNotReady) {
		t.Fatalf("checkHost() = %v; want %v", err, ErrHostNotReady)
	}
	for _, want := range []string{
		"containerd is missing", "CNI plugin bridge is missing",
		"apt-get install -y containerd containernetworking-plugins\n",
	} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("checkHost() = %q; want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "runc is missing") {
		t.Errorf("checkHost() = %q; runc is present", err)
	}
}

func TestStartDaemonLongPath(t *testing.T) {
	dir := "/" + strings.Repeat("d", 100)
	if _, err := StartDaemon(t.Context(), dir); err == nil || !strings.Contains(err.Error(), "too long for unix sockets") {
		t.Errorf("StartDaemon(%d-byte dir) = %v; want a socket path error", len(dir), err)
	}
}

func TestRepoDigest(t *testing.T) {
	tests := []struct {
		ref  ImageRef
		want string
	}{
		{ImageRef{Name: "docker.io/library/busybox:1.36", Digest: "sha256:m", ID: "sha256:c"}, "docker.io/library/busybox@sha256:m"},
		{ImageRef{Name: "capstan.local/busybox:1.35", Digest: "sha256:m"}, "capstan.local/busybox@sha256:m"},
		{ImageRef{Name: "capstan.local/busybox:1.35", ID: "sha256:c"}, "sha256:c"},
	}
	for _, tt := range tests {
		if got := tt.ref.RepoDigest(); got != tt.want {
			t.Errorf("%+v.RepoDigest() = %q; want %q", tt.ref, got, tt.want)
		}
	}
}
