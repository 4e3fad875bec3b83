package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Files of an agent's data directory the launcher writes.
const (
	agentLogFile = "agent.log"
	// AgentPIDFile holds the PID of the agent process, for `capstan down`.
	AgentPIDFile = "agent.pid"
)

// AgentConfig says how to launch one `capstan agent`.
type AgentConfig struct {
	// Name is the node's name (hollow nodes are <Name>-0 ...); its data directory is Dir/<Name>.
	Name string
	// Hollow, when positive, runs that many simulated nodes in the process.
	Hollow int
	// ImportTestImage imports the busybox test image into the agent's containerd.
	ImportTestImage bool
	// Args are extra flags.
	Args []string
}

// Agent is one agent process.
type Agent struct {
	// Name is the agent's node name; Nodes are the names of the nodes it runs.
	Name    string
	Nodes   []string
	DataDir string
	cfg     AgentConfig
	proc    *Master // the process bookkeeping is the masters'
}

// PID returns the agent's process ID, or 0 when it is not running.
func (a *Agent) PID() int { return a.proc.PID() }

// Exited reports whether the agent's process has ended.
func (a *Agent) Exited() bool { return a.proc.Exited() }

// Log returns the path of the agent's log.
func (a *Agent) Log() string { return filepath.Join(a.DataDir, agentLogFile) }

// bridgeName returns the pod network bridge of an agent: one per agent on a host.
func bridgeName(name string) string {
	b := "cap-" + name
	if len(b) > 15 {
		b = b[:15]
	}
	return b
}

// StartAgent launches a node agent that joins the cluster through every master, with its own
// data directory (and private containerd) under Dir, and appends it to Agents. It does not
// wait for its nodes: see WaitNodesReady.
func (c *Cluster) StartAgent(ctx context.Context, ac AgentConfig) (*Agent, error) {
	if ac.Name == "" {
		return nil, errors.New("an agent needs a name")
	}
	for _, a := range c.Agents {
		if a.Name == ac.Name {
			return nil, fmt.Errorf("agent %s already exists", ac.Name)
		}
	}
	var urls []string
	for _, m := range c.Masters {
		if u := m.URL(); u != "" && m.PID() != 0 {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("no running master to join through")
	}
	a := &Agent{Name: ac.Name, DataDir: filepath.Join(c.cfg.Dir, ac.Name), cfg: ac}
	a.proc = &Master{Name: ac.Name, DataDir: a.DataDir}
	if ac.Hollow > 0 {
		for i := 0; i < ac.Hollow; i++ {
			a.Nodes = append(a.Nodes, fmt.Sprintf("%s-%d", ac.Name, i))
		}
	} else {
		a.Nodes = []string{ac.Name}
	}
	args := []string{"agent", "--name", ac.Name, "--data-dir", a.DataDir, "--advertise", c.cfg.Advertise, "--bind-address", c.cfg.Advertise,
		"--server", strings.Join(urls, ","), "--token", c.token, "--kubelet-port", "0", "--gossip-port", "0", "--cni-bridge", bridgeName(ac.Name)}
	if ac.Hollow > 0 {
		args = append(args, "--hollow", strconv.Itoa(ac.Hollow))
	}
	if ac.ImportTestImage {
		args = append(args, "--import-test-image")
	}
	args = append(args, ac.Args...)
	if err := c.execAgent(a, args); err != nil {
		return nil, err
	}
	c.Agents = append(c.Agents, a)
	return a, nil
}

// execAgent runs the agent process with args, logging to its data directory and recording
// its PID.
func (c *Cluster) execAgent(a *Agent, args []string) error {
	if err := os.MkdirAll(a.DataDir, 0o700); err != nil {
		return err
	}
	cmd, err := c.startProcess(a.proc, args, a.Log())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(a.DataDir, AgentPIDFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
}

// StopAgent stops an agent with SIGTERM (it leaves gossip; its containers keep running) and
// waits for it to exit.
func (c *Cluster) StopAgent(a *Agent) error { return c.stop(a.proc, syscall.SIGTERM) }

// KillAgent stops an agent with SIGKILL and waits for it to exit.
func (c *Cluster) KillAgent(a *Agent) error { return c.stop(a.proc, syscall.SIGKILL) }

// RestartAgent starts a stopped agent again with its data directory: it needs no token.
func (c *Cluster) RestartAgent(a *Agent) error {
	args := []string{"agent", "--name", a.Name, "--data-dir", a.DataDir, "--advertise", c.cfg.Advertise, "--bind-address", c.cfg.Advertise,
		"--kubelet-port", "0", "--gossip-port", "0", "--cni-bridge", bridgeName(a.Name)}
	if a.cfg.Hollow > 0 {
		args = append(args, "--hollow", strconv.Itoa(a.cfg.Hollow))
	}
	return c.execAgent(a, append(args, a.cfg.Args...))
}

// stopAgents stops every agent (for Close).
func (c *Cluster) stopAgents() {
	for _, a := range c.Agents {
		_ = c.StopAgent(a)
	}
}

// WaitNodesReady waits until every node of the agents reports Ready, or an agent exits.
func (c *Cluster) WaitNodesReady(ctx context.Context, agents ...*Agent) error {
	base, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	base.QPS, base.Timeout = -1, 10*time.Second
	// Ask the running masters in turn: the kubeconfig's may have been stopped or removed.
	clientOf := func(attempt int) (kubernetes.Interface, error) {
		var running []*Master
		for _, m := range c.Masters {
			if !m.Exited() && m.URL() != "" {
				running = append(running, m)
			}
		}
		cfg := rest.CopyConfig(base)
		if len(running) > 0 {
			cfg.Host = running[attempt%len(running)].URL()
		}
		return kubernetes.NewForConfig(cfg)
	}
	want := map[string]bool{}
	for _, a := range agents {
		for _, n := range a.Nodes {
			want[n] = true
		}
	}
	last := ""
	for attempt := 0; ; attempt++ {
		client, err := clientOf(attempt)
		if err != nil {
			return err
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				if want[n.Name] && nodeReady(&n) {
					ready++
				}
			}
			if ready == len(want) {
				return nil
			}
			last = fmt.Sprintf("%d of %d nodes are Ready", ready, len(want))
		} else {
			last = err.Error()
		}
		for _, a := range agents {
			if a.Exited() {
				return fmt.Errorf("agent %s exited; see %s:\n%s", a.Name, a.Log(), tail(a.Log(), 15))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the nodes did not become Ready in time (%s); see the agents' logs under %s", last, c.cfg.Dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
