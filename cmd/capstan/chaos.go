package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/capstan-io/capstan/chaos"
	"github.com/capstan-io/capstan/chaos/firewall"
	"github.com/capstan-io/capstan/chaos/scenario"
)

// netnsEnv marks the re-executed `capstan chaos run --netns` inside its new namespace.
const netnsEnv = "CAPSTAN_CHAOS_IN_NETNS"

// chaosRunOptions are the flags of `capstan chaos run`.
type chaosRunOptions struct {
	scenario  string
	duration  time.Duration
	seed      uint64
	out       string
	masters   int
	hollow    int
	binary    string
	netns     bool
	keepData  bool
	logStore  string
	heartbeat time.Duration
	election  time.Duration
	opTimeout time.Duration
	clients   int
	roaming   int
	keys      int
}

func newChaosRunOptions() *chaosRunOptions {
	d := chaos.DefaultConfig()
	return &chaosRunOptions{
		scenario: d.Scenario.Name, duration: d.Duration, seed: d.Seed, out: d.Out, masters: d.Masters,
		heartbeat: d.HeartbeatTimeout, election: d.ElectionTimeout, opTimeout: d.Workload.OpTimeout,
		clients: d.Workload.ClientsPerMaster, roaming: d.Workload.RoamingClients, keys: d.Workload.Keys,
	}
}

func (o *chaosRunOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.scenario, "scenario", o.scenario, "Scenario to run: "+strings.Join(scenario.Names(), ", ")+" (see capstan chaos list).")
	fs.DurationVar(&o.duration, "duration", o.duration, "How long traffic runs; repeating scenarios inject faults until it is used up.")
	fs.Uint64Var(&o.seed, "seed", o.seed, "Seed of the fault schedule and the workload; the same seed replays the same run.")
	fs.StringVar(&o.out, "out", o.out, "Directory for report.json, summary.txt and, on violations, history.json and linearizability.html.")
	fs.IntVar(&o.masters, "masters", o.masters, "Number of masters: 3 or 5.")
	fs.IntVar(&o.hollow, "hollow", o.hollow, "Hollow nodes (in one node agent) that run the Deployment's pods and are the victims of kill-agent; 0 runs no agent.")
	fs.StringVar(&o.binary, "binary", o.binary, "capstan binary the masters run (default: this one).")
	fs.BoolVar(&o.netns, "netns", o.netns, "Run in a new network namespace so nftables faults (gossip-partition) can run; needs root.")
	fs.BoolVar(&o.keepData, "keep-data", o.keepData, "Keep the masters' data directories (OUT/cluster) after a passing run.")
	fs.StringVar(&o.logStore, "raft-log-store", o.logStore, `The masters' Raft log store: "wal" or "boltdb"; empty means the server's default.`)
	fs.DurationVar(&o.heartbeat, "raft-heartbeat-timeout", o.heartbeat, "The masters' Raft heartbeat timeout.")
	fs.DurationVar(&o.election, "raft-election-timeout", o.election, "The masters' Raft election timeout.")
	fs.DurationVar(&o.opTimeout, "op-timeout", o.opTimeout, "Timeout of one client request; a timed-out request has an unknown outcome.")
	fs.IntVar(&o.clients, "clients-per-master", o.clients, "Clients pinned to each master.")
	fs.IntVar(&o.roaming, "roaming-clients", o.roaming, "Clients that pick a master per request.")
	fs.IntVar(&o.keys, "keys", o.keys, "Number of hot keys the clients share.")
}

// Validate reports every invalid flag at once.
func (o *chaosRunOptions) Validate() error {
	var errs []error
	if _, err := scenario.Lookup(o.scenario); err != nil {
		errs = append(errs, fmt.Errorf("--scenario: %v", err))
	}
	if o.duration < time.Second || o.duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--duration %s must be between 1s and 24h", o.duration))
	}
	if o.hollow < 0 || o.hollow > 1000 {
		errs = append(errs, fmt.Errorf("--hollow %d must be between 0 and 1000", o.hollow))
	}
	if o.masters != 3 && o.masters != 5 {
		errs = append(errs, fmt.Errorf("--masters %d must be 3 or 5", o.masters))
	}
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	if o.logStore != "" && o.logStore != "wal" && o.logStore != "boltdb" {
		errs = append(errs, fmt.Errorf("--raft-log-store %q must be wal or boltdb", o.logStore))
	}
	if o.heartbeat < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("--raft-heartbeat-timeout %s is below the 10ms minimum", o.heartbeat))
	}
	if o.election < o.heartbeat {
		errs = append(errs, fmt.Errorf("--raft-election-timeout %s is below --raft-heartbeat-timeout %s", o.election, o.heartbeat))
	}
	if o.opTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("--op-timeout %s is below 10ms", o.opTimeout))
	}
	if o.clients < 0 || o.roaming < 0 || o.clients+o.roaming == 0 {
		errs = append(errs, fmt.Errorf("--clients-per-master %d and --roaming-clients %d must be non-negative and not both 0", o.clients, o.roaming))
	}
	if o.keys < 1 || o.keys > 1000 {
		errs = append(errs, fmt.Errorf("--keys %d must be between 1 and 1000", o.keys))
	}
	if o.netns && os.Geteuid() != 0 {
		errs = append(errs, errors.New("--netns needs root"))
	}
	return errors.Join(errs...)
}

// Config turns the options into a run configuration.
func (o *chaosRunOptions) Config() (chaos.Config, error) {
	cfg := chaos.DefaultConfig()
	s, err := scenario.Lookup(o.scenario)
	if err != nil {
		return cfg, err
	}
	if cfg.Binary = o.binary; cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return cfg, err
		}
	}
	cfg.Scenario, cfg.Seed, cfg.Duration, cfg.Masters, cfg.Out, cfg.KeepData = s, o.seed, o.duration, o.masters, o.out, o.keepData
	cfg.HollowNodes = o.hollow
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.Firewall, cfg.LogStore = o.heartbeat, o.election, o.netns, o.logStore
	cfg.Workload.OpTimeout, cfg.Workload.ClientsPerMaster, cfg.Workload.RoamingClients, cfg.Workload.Keys = o.opTimeout, o.clients, o.roaming, o.keys
	cfg.Command = fmt.Sprintf("capstan chaos run --scenario %s --duration %s --seed %d --masters %d --out %s", o.scenario, o.duration, o.seed, o.masters, o.out)
	if o.logStore != "" {
		cfg.Command += " --raft-log-store " + o.logStore
	}
	if o.hollow > 0 {
		cfg.Command += fmt.Sprintf(" --hollow %d", o.hollow)
	}
	if o.netns {
		cfg.Command += " --netns"
	}
	return cfg, nil
}

func chaosCommand() *command {
	return &command{name: "chaos", summary: "run the chaos suite: faults under load, then invariant checks", subs: []*command{chaosRunCommand(), chaosListCommand()}}
}

func chaosRunCommand() *command {
	o := newChaosRunOptions()
	return &command{
		name:    "run",
		summary: "launch a local cluster, inject a scenario's faults under load and check the invariants",
		flags:   o.AddFlags,
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return usagef("%v", err)
			}
			if o.netns && os.Getenv(netnsEnv) == "" {
				return reexecInNetns(ctx, out)
			}
			if o.netns {
				if err := firewall.LoopbackUp(ctx); err != nil {
					return err
				}
			}
			cfg, err := o.Config()
			if err != nil {
				return usagef("%v", err)
			}
			cfg.Logf = func(format string, args ...any) {
				fmt.Fprintf(out, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
			}
			rep, err := chaos.Run(ctx, cfg)
			if rep != nil {
				fmt.Fprintf(out, "\n%s", rep.Summary())
			}
			if err != nil {
				return err
			}
			if !rep.OK {
				n := 0
				for _, v := range rep.Violations {
					n += v
				}
				return fmt.Errorf("chaos run found %d invariant violations; evidence in %s", n, o.out)
			}
			return nil
		},
	}
}

// reexecInNetns runs this command again in a new network namespace.
func reexecInNetns(ctx context.Context, out io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("chaos run in a new network namespace exited with status %d", exit.ExitCode())
		}
		return fmt.Errorf("start the chaos run in a new network namespace: %w", err)
	}
	return nil
}

func chaosListCommand() *command {
	return &command{
		name:    "list",
		summary: "list the chaos scenarios",
		run: func(_ context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			for _, s := range scenario.All() {
				fmt.Fprintf(out, "%-18s %s\n", s.Name, s.Summary)
			}
			fmt.Fprintf(out, "\npinned regression runs (capstan chaos run --scenario S --seed N --duration D):\n")
			for _, r := range scenario.Regressions() {
				line := fmt.Sprintf("%-32s --scenario %s --seed %d --duration %s", r.Name, r.Scenario, r.Seed, r.Duration)
				if r.LogStore != "" {
					line += " --raft-log-store " + r.LogStore
				}
				if r.Open != "" {
					line += " (open)"
				}
				fmt.Fprintln(out, line)
			}
			return nil
		},
	}
}
