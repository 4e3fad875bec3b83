package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/cmd/capstan/internal/startbench"
)

// TestWorkloads complements TestPodWorkloads (pods_e2e_test.go), which covers the httpd
// Deployment, port-forward, exec, logs -f, crash back-off, liveness, OOM with restartPolicy
// Never, rollout undo and agent restart adoption. On its own cluster of three masters and one
// real agent it runs `capstan bench startup` against the cluster's kubeconfig, and checks the
// restart paths the other test does not: a container killed for its memory limit under
// restartPolicy Always (lastState OOMKilled) and an httpGet liveness probe on a closed port
// (Unhealthy, then Killing).
func TestWorkloads(t *testing.T) {
	skipWithoutContainers(t)
	c := startCluster(t, 3)
	k := apitest.NewKubectl(t, c.Kubeconfig())
	startAgent(t, c, cluster.AgentConfig{Name: "wl1", ImportTestImage: true})
	cs := kubernetes.NewForConfigOrDie(restConfig(t, c, c.Masters[0]))
	ctx := ctxTimeout(t, 4*time.Minute)
	deletePodsAtCleanup(t, k, cs)

	t.Run("bench startup", func(t *testing.T) {
		bctx := ctxTimeout(t, 2*time.Minute)
		cmd := exec.CommandContext(bctx, capstanBinary, "bench", "startup", "--kubeconfig", c.Kubeconfig(),
			"--namespace", "bench-e2e", "--pods", "10", "--rate", "5", "--timeout", "90s", "-o", "json")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("capstan bench startup: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		var rep startbench.Report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("capstan bench startup -o json printed %q: %v", stdout.String(), err)
		}
		t.Logf("bench startup: %+v", rep)
		if rep.Pods != 10 || rep.Started != 10 || rep.Rate != 5 {
			t.Errorf("report pods=%d started=%d rate=%g; want 10, 10, 5", rep.Pods, rep.Started, rep.Rate)
		}
		if !(0 < rep.P50 && rep.P50 <= rep.P99 && rep.P99 <= rep.Max) {
			t.Errorf("report percentiles p50=%g p99=%g max=%g; want 0 < p50 <= p99 <= max", rep.P50, rep.P99, rep.Max)
		}
		// The benchmark deletes its namespace and waits until it is gone.
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "bench-e2e", metav1.GetOptions{}); err == nil {
			t.Errorf("namespace bench-e2e still exists after the benchmark")
		}
	})

	t.Run("OOMKilled restarts", func(t *testing.T) {
		// Doubling a shell variable exceeds 16Mi within a second; the shell is PID 1, so the
		// kernel's OOM killer ends the container itself (a pipeline's reader would die instead).
		limits := "    resources:\n      limits: {memory: 16Mi}\n"
		k.Must(fmt.Sprintf(podManifest, "hog-always", "Always", testImageName, "x=0123456789; while true; do x=$x$x; done", limits), "apply", "-f", "-")
		waitFor(t, 60*time.Second, "hog-always restarted after OOMKilled", func() (bool, string) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "hog-always", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err)
			}
			st := p.Status.ContainerStatuses[0]
			last := st.LastTerminationState.Terminated
			return st.RestartCount >= 1 && last != nil && last.Reason == "OOMKilled" && last.ExitCode == 137, fmt.Sprintf("%+v", st)
		})
	})

	t.Run("liveness httpGet Killing", func(t *testing.T) {
		probe := "    livenessProbe:\n      httpGet: {path: /, port: 8081}\n      periodSeconds: 1\n      failureThreshold: 2\n"
		k.Must(fmt.Sprintf(podManifest, "closed-port", "Always", testImageName, `trap "exit 0" TERM; sleep 3600 & wait`, probe), "apply", "-f", "-")
		waitFor(t, 60*time.Second, "closed-port restarted by its liveness probe", func() (bool, string) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "closed-port", metav1.GetOptions{})
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err)
			}
			return p.Status.ContainerStatuses[0].RestartCount >= 1, fmt.Sprintf("%+v", p.Status.ContainerStatuses[0])
		})
		waitFor(t, 30*time.Second, "Unhealthy and Killing events of closed-port", func() (bool, string) {
			out, err := k.Run("", "describe", "pod", "closed-port")
			return err == nil && strings.Contains(out, "Liveness probe failed") && strings.Contains(out, "Killing"), out
		})
	})
}
