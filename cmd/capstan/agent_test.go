package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestAgentFlags(t *testing.T) {
	base := []string{"agent", "--name", "n1", "--data-dir", "/tmp/x", "--advertise", "10.0.0.5"}
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "advertise missing", args: []string{"agent", "--name", "n1"}, wantStderr: `--advertise "" must be this node's IP address`},
		{name: "bad name", args: append(base, "--name", "N_1"), wantStderr: `--name "N_1" is invalid`},
		{name: "bad server", args: append(base, "--server", "http://m1:6443"), wantStderr: `--server "http://m1:6443" is not an https:// URL`},
		{name: "bad token", args: append(base, "--server", "https://m1:6443", "--token", "nope"), wantStderr: "--token:"},
		{name: "token without server", args: append(base, "--token", "K10abc::def"), wantStderr: "--token needs --server"},
		{name: "bad kubelet port", args: append(base, "--kubelet-port", "70000"), wantStderr: "--kubelet-port 70000 is out of range"},
		{name: "bad gossip port", args: append(base, "--gossip-port", "-2"), wantStderr: "--gossip-port -2 is out of range"},
		{name: "relative containerd", args: append(base, "--containerd-address", "c.sock"), wantStderr: `--containerd-address "c.sock" must be an absolute`},
		{name: "long bridge", args: append(base, "--cni-bridge", "a-very-long-bridge-name"), wantStderr: `--cni-bridge "a-very-long-bridge-name"`},
		{name: "bad max pods", args: append(base, "--max-pods", "0"), wantStderr: "--max-pods 0 must be positive"},
		{name: "bad dns", args: append(base, "--cluster-dns", "dns"), wantStderr: `--cluster-dns "dns" is not an IP address`},
		{name: "bad interval", args: append(base, "--node-status-interval", "1ms"), wantStderr: "--node-status-interval 1ms is below 100ms"},
		{name: "negative report interval", args: append(base, "--node-status-report-interval", "-1s"), wantStderr: "--node-status-report-interval -1s must not be negative"},
		{name: "report interval below status interval", args: append(base, "--node-status-report-interval", "5s"), wantStderr: "--node-status-report-interval 5s is below --node-status-interval 10s"},
		{name: "bad hollow", args: append(base, "--hollow", "-1"), wantStderr: "--hollow -1 must be between 0 and 10000"},
		{name: "bad log level", args: append(base, "--log-level", "loud"), wantStderr: `--log-level "loud"`},
		{name: "every problem at once", args: []string{"agent", "--name", "n1", "--max-pods", "0", "--kubelet-port", "-1"}, wantStderr: "--max-pods 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d; want 2 (stderr %q)", tt.args, code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q; want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestAgentWithoutIdentity(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"agent", "--name", "n1", "--data-dir", t.TempDir(), "--advertise", "127.0.0.1", "--hollow", "1", "--kubelet-port", "0", "--gossip-port", "0"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not joined yet and no join token") {
		t.Errorf("run(%q) = %d, stderr %q; want 1 and a message asking for --server and --token", args, code, stderr.String())
	}
}
