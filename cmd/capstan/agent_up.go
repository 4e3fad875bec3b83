package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/capstan-io/capstan/chaos/cluster"
)

// startAgents starts the real and hollow node agents `capstan up` asked for and waits until
// their nodes are Ready.
func startAgents(ctx context.Context, c *cluster.Cluster, o *upOptions, out io.Writer) error {
	var agents []*cluster.Agent
	for i := 1; i <= o.agents; i++ {
		a, err := c.StartAgent(ctx, cluster.AgentConfig{Name: fmt.Sprintf("a%d", i), ImportTestImage: true})
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	if o.hollow > 0 {
		a, err := c.StartAgent(ctx, cluster.AgentConfig{Name: "hollow", Hollow: o.hollow})
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	if len(agents) == 0 {
		return nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := c.WaitNodesReady(wctx, agents...); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d node agent(s) are up (nodes Ready after %s):\n", len(agents), time.Since(start).Round(100*time.Millisecond))
	for _, a := range agents {
		what := "real node, containerd under " + filepath.Join(a.DataDir, "containerd")
		if len(a.Nodes) > 1 || strings.HasPrefix(a.Name, "hollow") {
			what = fmt.Sprintf("%d hollow nodes %s ... %s", len(a.Nodes), a.Nodes[0], a.Nodes[len(a.Nodes)-1])
		}
		fmt.Fprintf(out, "  %s  %s  (log %s)\n", a.Name, what, a.Log())
	}
	return nil
}

// runningAgents returns the PIDs of the agents of dir that are still running.
func runningAgents(dir string) []int {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", cluster.AgentPIDFile))
	var pids []int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if isAgentProcess(pid, filepath.Dir(p)) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// isAgentProcess checks that pid is a capstan agent of dataDir, not a recycled PID.
func isAgentProcess(pid int, dataDir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 1 && args[1] == "agent" && strings.Contains(string(cmdline), dataDir)
}
