// Package cluster launches Capstan clusters of real processes on one machine: masters as
// `capstan server` processes with their own data directories and ports. `capstan up`, the
// end-to-end tests, the benchmarks and the chaos suite start clusters through it, and the chaos
// suite kills, pauses and restarts its processes.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
)

// Files of a master's data directory the launcher reads (see the master package).
const (
	endpointsFile   = "endpoints.json"
	joinTokenFile   = "join-token"
	adminKubeconfig = "admin.kubeconfig"
	logFile         = "server.log"
)

// Config says what to launch.
type Config struct {
	// Binary is the capstan executable.
	Binary string
	// Dir holds one data directory per master (Dir/m1, Dir/m2...) and the admin kubeconfig.
	Dir string
	// Masters is how many masters to start.
	Masters int
	// APIPortBase, PeerPortBase and GossipPortBase number the masters' ports (base, base+1,
	// ...); 0 picks free ports.
	APIPortBase, PeerPortBase, GossipPortBase int
	// Advertise is the address the masters advertise (127.0.0.1 on one machine).
	Advertise string
	// ServerArgs are extra flags for every `capstan server`.
	ServerArgs []string
	// MasterArgs, when set, returns extra flags for the first start of the master with the
	// given name, after ServerArgs (a later flag wins), such as the chaos suite's proxied peer
	// port. Restarts keep what the first start recorded in the data directory.
	MasterArgs func(name string) []string
	// Detach lets the processes outlive the launcher (for `capstan up`).
	Detach bool
	// Timeout bounds waiting for the cluster to become healthy.
	Timeout time.Duration
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("the capstan binary is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("a data directory is required"))
	}
	if c.Masters < 1 || c.Masters > 9 {
		errs = append(errs, fmt.Errorf("masters %d must be between 1 and 9", c.Masters))
	}
	if c.Masters%2 == 0 {
		errs = append(errs, fmt.Errorf("masters %d should be odd: an even count tolerates no more failures than one fewer", c.Masters))
	}
	for name, p := range map[string]int{"API port base": c.APIPortBase, "peer port base": c.PeerPortBase, "gossip port base": c.GossipPortBase} {
		if p < 0 || p+c.Masters > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is out of range", name, p))
		}
	}
	return errors.Join(errs...)
}

// Master is one master process.
type Master struct {
	Name    string
	DataDir string
	apiPort int
	peer    int
	gossip  int

	mu  sync.Mutex // protects cmd and url
	cmd *exec.Cmd
	url string
	// exited is closed when the process ends (owned processes only).
	exited chan struct{}
}

// URL returns the master's API URL as it last reported it.
func (m *Master) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.url
}

// PID returns the master's process ID, or 0 when it is not running.
func (m *Master) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Exited reports whether the master's last process has ended (killed, stopped or crashed).
func (m *Master) Exited() bool {
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
		return false
	}
}

// Cluster is a launched cluster.
type Cluster struct {
	cfg     Config
	Masters []*Master
	// Agents are the node agents started with StartAgent (see agent.go).
	Agents []*Agent
	token  string
}

// Kubeconfig returns the admin kubeconfig's path.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.cfg.Dir, adminKubeconfig) }

// JoinToken returns the cluster's join token.
func (c *Cluster) JoinToken() string { return c.token }

// Start launches the masters: the first bootstraps, the others join it, and Start returns once
// every master is a healthy voter.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Advertise == "" {
		cfg.Advertise = "127.0.0.1"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c := &Cluster{cfg: cfg}
	for i := 0; i < cfg.Masters; i++ {
		m := &Master{Name: fmt.Sprintf("m%d", i+1), DataDir: filepath.Join(cfg.Dir, fmt.Sprintf("m%d", i+1))}
		if cfg.APIPortBase > 0 {
			m.apiPort = cfg.APIPortBase + i
		}
		if cfg.PeerPortBase > 0 {
			m.peer = cfg.PeerPortBase + i
		}
		if cfg.GossipPortBase > 0 {
			m.gossip = cfg.GossipPortBase + i
		}
		c.Masters = append(c.Masters, m)
	}
	first := c.Masters[0]
	if err := c.start(first, "--bootstrap"); err != nil {
		return c, err
	}
	if err := first.waitReady(ctx); err != nil {
		return c, err
	}
	token, err := os.ReadFile(filepath.Join(first.DataDir, joinTokenFile))
	if err != nil {
		return c, fmt.Errorf("read the join token: %w", err)
	}
	c.token = strings.TrimSpace(string(token))
	if err := copyFile(filepath.Join(first.DataDir, adminKubeconfig), c.Kubeconfig()); err != nil {
		return c, err
	}
	for _, m := range c.Masters[1:] {
		if err := c.start(m, "--join", first.URL(), "--token", c.token); err != nil {
			return c, err
		}
	}
	for _, m := range c.Masters[1:] {
		if err := m.waitReady(ctx); err != nil {
			return c, err
		}
	}
	return c, c.WaitHealthy(ctx, cfg.Masters)
}

// start launches a master process with the given extra flags.
func (c *Cluster) start(m *Master, extra ...string) error {
	if err := os.MkdirAll(m.DataDir, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(m.DataDir, endpointsFile))
	args := []string{"server", "--name", m.Name, "--data-dir", m.DataDir, "--advertise", c.cfg.Advertise, "--bind-address", c.cfg.Advertise,
		"--api-port", strconv.Itoa(m.apiPort), "--peer-port", strconv.Itoa(m.peer), "--gossip-port", strconv.Itoa(m.gossip)}
	args = append(args, c.cfg.ServerArgs...)
	if c.cfg.MasterArgs != nil {
		args = append(args, c.cfg.MasterArgs(m.Name)...)
	}
	return c.exec(m, append(args, extra...))
}

// exec runs capstan with args for m, logging to its data directory.
func (c *Cluster) exec(m *Master, args []string) error {
	_, err := c.startProcess(m, args, filepath.Join(m.DataDir, logFile))
	return err
}

// startProcess runs capstan with args as m's process, appending its output to logPath, and
// reaps it when it ends.
func (c *Cluster) startProcess(m *Master, args []string, logPath string) (*exec.Cmd, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: c.cfg.Detach}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", m.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps the process; detached ones are reaped when the launcher exits
		log.Close()
		close(exited)
	}()
	m.mu.Lock()
	m.cmd, m.exited = cmd, exited
	m.mu.Unlock()
	return cmd, nil
}

// waitReady waits for the master to write its endpoints and answer /readyz.
func (m *Master) waitReady(ctx context.Context) error {
	for {
		var ep struct {
			APIURL string `json:"apiURL"`
			PID    int    `json:"pid"`
		}
		data, err := os.ReadFile(filepath.Join(m.DataDir, endpointsFile))
		if err == nil && json.Unmarshal(data, &ep) == nil && ep.PID == m.PID() && ep.APIURL != "" {
			m.mu.Lock()
			m.url = ep.APIURL
			m.mu.Unlock()
			return nil
		}
		m.mu.Lock()
		exited := m.exited
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("master %s did not start in time; see %s", m.Name, filepath.Join(m.DataDir, logFile))
		case <-exited:
			return fmt.Errorf("master %s exited; see %s:\n%s", m.Name, filepath.Join(m.DataDir, logFile), tail(filepath.Join(m.DataDir, logFile), 15))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Add starts a new master named name with an empty data directory under Dir, joining the
// cluster through a running master, appends it to Masters and returns once it serves. It does
// not wait for the master to become a voter (see WaitHealthy). Names of removed members cannot
// be reused.
func (c *Cluster) Add(ctx context.Context, name string) (*Master, error) {
	var via *Master
	for _, m := range c.Masters {
		if m.PID() != 0 && m.URL() != "" {
			via = m
			break
		}
	}
	if via == nil {
		return nil, errors.New("no running master to join through")
	}
	for _, m := range c.Masters {
		if m.Name == name {
			return nil, fmt.Errorf("master %s already exists", name)
		}
	}
	m := &Master{Name: name, DataDir: filepath.Join(c.cfg.Dir, name)}
	if err := c.start(m, "--join", via.URL(), "--token", c.token); err != nil {
		return nil, err
	}
	c.Masters = append(c.Masters, m)
	return m, m.waitReady(ctx)
}

// Client returns an admin client of the master at index i.
func (c *Cluster) Client(m *Master) (*adminapi.Client, error) {
	cl, err := adminapi.NewClient(c.Kubeconfig())
	if err != nil {
		return nil, err
	}
	return cl.At(m.URL()), nil
}

// WaitHealthy waits until some master reports a leader and at least voters healthy voters.
func (c *Cluster) WaitHealthy(ctx context.Context, voters int) error {
	var last error
	for {
		for _, m := range c.Masters {
			if m.PID() == 0 || m.URL() == "" {
				continue
			}
			cl, err := c.Client(m)
			if err != nil {
				return err
			}
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			h, err := cl.Health(hctx)
			cancel()
			if err != nil {
				last = err
				continue
			}
			n := 0
			for _, mem := range h.Members {
				if mem.Voter && mem.Healthy {
					n++
				}
			}
			if h.Healthy && n >= voters {
				return nil
			}
			last = fmt.Errorf("%d of %d voters healthy, leader %q: %s", n, voters, h.Leader, strings.Join(h.Problems, "; "))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster did not become healthy: %v", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Leader returns the master the cluster reports as leader.
func (c *Cluster) Leader(ctx context.Context) (*Master, error) {
	for _, m := range c.Masters {
		if m.PID() == 0 {
			continue
		}
		cl, err := c.Client(m)
		if err != nil {
			return nil, err
		}
		h, err := cl.Health(ctx)
		if err != nil || h.Leader == "" {
			continue
		}
		for _, x := range c.Masters {
			if x.Name == h.Leader {
				return x, nil
			}
		}
	}
	return nil, errors.New("no master reports a leader")
}

// Signal sends sig to a master.
func (m *Master) Signal(sig syscall.Signal) error {
	pid := m.PID()
	if pid == 0 {
		return fmt.Errorf("master %s is not running", m.Name)
	}
	return syscall.Kill(pid, sig)
}

// Kill stops a master with SIGKILL and waits for it to exit.
func (c *Cluster) Kill(m *Master) error { return c.stop(m, syscall.SIGKILL) }

// Stop stops a master with SIGTERM (it hands leadership over) and waits for it to exit.
func (c *Cluster) Stop(m *Master) error { return c.stop(m, syscall.SIGTERM) }

func (c *Cluster) stop(m *Master, sig syscall.Signal) error {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	m.mu.Lock()
	m.cmd = nil
	m.mu.Unlock()
	return nil
}

// Restart starts a stopped master again with its data directory and nothing else: it keeps
// its name and addresses.
func (c *Cluster) Restart(ctx context.Context, m *Master) error {
	if err := c.exec(m, []string{"server", "--data-dir", m.DataDir}); err != nil {
		return err
	}
	return m.waitReady(ctx)
}

// Close stops every agent and master it owns (SIGTERM).
func (c *Cluster) Close() {
	c.stopAgents()
	var wg sync.WaitGroup
	for _, m := range c.Masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Stop(m)
		}()
	}
	wg.Wait()
}

// FreePort returns a port nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RunWithBinary builds the capstan command into a temporary directory, stores its path in
// *bin, runs the tests of m, removes the build and exits with the tests' code. The TestMain of
// packages whose tests run real capstan processes calls it.
func RunWithBinary(m interface{ Run() int }, bin *string) {
	dir, err := os.MkdirTemp("", "capstan-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "capstan")
	build := exec.Command("go", "build", "-o", *bin, "github.com/capstan-io/capstan/cmd/capstan")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build capstan:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
