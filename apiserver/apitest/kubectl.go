package apitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KubectlPath is where the real kubectl is installed.
const KubectlPath = "/usr/bin/kubectl"

// Kubectl runs the real kubectl with one kubeconfig, a private home and cache directory.
type Kubectl struct {
	t          testing.TB
	kubeconfig string
	dir        string
	// Env is the environment kubectl runs with; tests may append to it.
	Env []string
}

// NewKubectl returns a kubectl for kubeconfig; it skips the test when kubectl is not installed.
func NewKubectl(t testing.TB, kubeconfig string) *Kubectl {
	t.Helper()
	if _, err := os.Stat(KubectlPath); err != nil {
		t.Skipf("kubectl is not installed at %s", KubectlPath)
	}
	dir := t.TempDir()
	return &Kubectl{t: t, kubeconfig: kubeconfig, dir: dir, Env: append(os.Environ(), "HOME="+dir)}
}

// Cmd returns a kubectl command with args, reading stdin when it is not empty.
func (k *Kubectl) Cmd(ctx context.Context, stdin string, args ...string) *exec.Cmd {
	args = append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", filepath.Join(k.dir, "cache")}, args...)
	cmd := exec.CommandContext(ctx, KubectlPath, args...)
	cmd.Env = k.Env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return cmd
}

// Run runs kubectl (for at most a minute) and returns its combined output.
func (k *Kubectl) Run(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := k.Cmd(ctx, stdin, args...).CombinedOutput()
	return string(out), err
}

// Must runs kubectl and fails the test if it fails.
func (k *Kubectl) Must(stdin string, args ...string) string {
	k.t.Helper()
	out, err := k.Run(stdin, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
