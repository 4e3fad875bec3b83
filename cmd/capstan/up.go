package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// defaultClusterDir is where `capstan up` keeps a local cluster.
func defaultClusterDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/capstan"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".capstan")
	}
	return ".capstan"
}

// upOptions are the flags of `capstan up`.
type upOptions struct {
	dir                  string
	masters, agents      int
	hollow               int
	apiPort, peerPort    int
	gossipPort           int
	advertise            string
	timeout              time.Duration
	raftHeartbeatTimeout time.Duration
}

func (o *upOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "data-dir", o.dir, "Directory of the local cluster (one data dir per master, and admin.kubeconfig).")
	fs.IntVar(&o.masters, "masters", o.masters, "Masters to run (odd).")
	fs.IntVar(&o.agents, "agents", o.agents, "Node agents to run.")
	fs.IntVar(&o.hollow, "hollow", o.hollow, "Hollow (simulated) nodes to run.")
	fs.IntVar(&o.apiPort, "api-port", o.apiPort, "API port of the first master; the others use the next ones (0 picks free ports).")
	fs.IntVar(&o.peerPort, "peer-port", o.peerPort, "Peer port of the first master; the others use the next ones (0 picks free ports).")
	fs.IntVar(&o.gossipPort, "gossip-port", o.gossipPort, "Gossip port of the first master; the others use the next ones (0 picks free ports).")
	fs.StringVar(&o.advertise, "advertise", o.advertise, "Address the masters listen on and advertise.")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "How long to wait for the cluster to become healthy.")
}

func (o *upOptions) Validate() error {
	var errs []error
	if o.dir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if o.masters < 1 || o.masters%2 == 0 {
		errs = append(errs, fmt.Errorf("--masters %d must be a positive odd number", o.masters))
	}
	if o.agents < 0 || o.hollow < 0 {
		errs = append(errs, fmt.Errorf("--agents %d and --hollow %d must not be negative", o.agents, o.hollow))
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s must be positive", o.timeout))
	}
	return errors.Join(errs...)
}

func upCommand() *command {
	o := &upOptions{dir: defaultClusterDir(), masters: 3, agents: 1, apiPort: 6443, peerPort: 7000, gossipPort: 7946, advertise: "127.0.0.1", timeout: 2 * time.Minute}
	return &command{name: "up", summary: "start a local HA cluster (masters as processes on this machine) and return once it is healthy", flags: o.AddFlags,
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return usagef("%v", err)
			}
			running, err := runningMasters(o.dir)
			if err != nil {
				return err
			}
			if len(running) > 0 {
				return fmt.Errorf("a cluster is already running in %s (pids %v); run `capstan down --data-dir %s` first", o.dir, running, o.dir)
			}
			if o.agents > 0 {
				if err := runtime.CheckHost(); err != nil {
					return fmt.Errorf("%w\n(or run no real node agents with --agents 0; hollow nodes need nothing)", err)
				}
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(o.dir, 0o700); err != nil {
				return err
			}
			c, err := cluster.Start(ctx, cluster.Config{
				Binary: bin, Dir: o.dir, Masters: o.masters, APIPortBase: o.apiPort, PeerPortBase: o.peerPort, GossipPortBase: o.gossipPort,
				Advertise: o.advertise, Detach: true, Timeout: o.timeout,
			})
			if err != nil {
				return fmt.Errorf("%w\nthe masters' logs are in %s/m*/server.log; `capstan down --data-dir %s --purge` cleans up", err, o.dir, o.dir)
			}
			fmt.Fprintf(out, "Capstan is up in %s: %d masters\n", o.dir, len(c.Masters))
			for _, m := range c.Masters {
				fmt.Fprintf(out, "  %s  %s  (log %s)\n", m.Name, m.URL(), filepath.Join(m.DataDir, "server.log"))
			}
			if err := startAgents(ctx, c, o, out); err != nil {
				return fmt.Errorf("%w\n`capstan down --data-dir %s --purge` cleans up", err, o.dir)
			}
			fmt.Fprintf(out, "\nNext:\n  export KUBECONFIG=%s\n  kubectl get nodes\n", c.Kubeconfig())
			if o.agents > 0 {
				fmt.Fprintf(out, "  kubectl create deployment web --image=%s -- sh -c 'echo hello; sleep 3600'\n  kubectl logs deploy/web\n", testImageName)
				fmt.Fprintf(out, "  (the real nodes have the busybox test image %s; they pull nothing else from a registry they cannot reach)\n", testImageName)
			} else {
				fmt.Fprintf(out, "  kubectl get namespaces\n")
			}
			fmt.Fprintf(out, "  capstan admin members list\n  capstan down --data-dir %s\n", o.dir)
			return nil
		}}
}

// runningMasters returns the PIDs of the masters of dir that are still running.
func runningMasters(dir string) ([]int, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "endpoints.json"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, p := range paths {
		var ep struct {
			PID int `json:"pid"`
		}
		data, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(data, &ep) != nil || ep.PID <= 0 {
			continue
		}
		if isMasterProcess(ep.PID, filepath.Dir(p)) {
			pids = append(pids, ep.PID)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// isMasterProcess checks that pid is a capstan server of dataDir, not a recycled PID.
func isMasterProcess(pid int, dataDir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 1 && args[1] == "server" && strings.Contains(string(cmdline), dataDir)
}

func downCommand() *command {
	dir, purge := defaultClusterDir(), false
	return &command{name: "down", summary: "stop the local cluster started by `capstan up`",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&dir, "data-dir", dir, "Directory of the local cluster.")
			fs.BoolVar(&purge, "purge", false, "Also delete the directory and all the cluster's data.")
		},
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			// Agents first: they leave gossip while the masters still run.
			agents := runningAgents(dir)
			stopProcesses(agents)
			pids, err := runningMasters(dir)
			if err != nil {
				return err
			}
			stopProcesses(pids)
			fmt.Fprintf(out, "stopped %d agent(s) and %d master(s) of %s\n", len(agents), len(pids), dir)
			if purge {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
				fmt.Fprintf(out, "removed %s\n", dir)
			}
			return nil
		}}
}

// stopProcesses sends SIGTERM to pids and waits up to 30 s for them, then kills the rest.
func stopProcesses(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling the process table
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}
