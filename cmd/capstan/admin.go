package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/cmd/capstan/internal/master"
	"github.com/capstan-io/capstan/raftstore"
)

// adminOptions are the flags every admin command that talks to a master has.
type adminOptions struct {
	outputOptions
	kubeconfig string
	server     string
}

func defaultKubeconfig() string {
	if k := os.Getenv("KUBECONFIG"); k != "" {
		return strings.Split(k, string(os.PathListSeparator))[0]
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".kube", "config")
	}
	return ""
}

func (o *adminOptions) AddFlags(fs *pflag.FlagSet) {
	o.outputOptions.AddFlags(fs)
	fs.StringVar(&o.kubeconfig, "kubeconfig", o.kubeconfig, "Admin kubeconfig of the cluster (written by the first master as data-dir/admin.kubeconfig).")
	fs.StringVar(&o.server, "server", o.server, "Master to talk to instead of the kubeconfig's (any master will do), like https://10.0.0.2:6443.")
}

func (o *adminOptions) client() (*adminapi.Client, error) {
	if err := o.outputOptions.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	if o.kubeconfig == "" {
		return nil, usagef("--kubeconfig is required: pass the admin kubeconfig (data-dir/admin.kubeconfig of the first master)")
	}
	if _, err := os.Stat(o.kubeconfig); err != nil {
		return nil, usagef("--kubeconfig %q: %v", o.kubeconfig, err)
	}
	c, err := adminapi.NewClient(o.kubeconfig)
	if err != nil || o.server == "" {
		return c, err
	}
	if !strings.HasPrefix(o.server, "https://") {
		return nil, usagef("--server %q must be an https URL", o.server)
	}
	return c.At(o.server), nil
}

func newAdminOptions() *adminOptions {
	return &adminOptions{outputOptions: outputOptions{Output: "table"}, kubeconfig: defaultKubeconfig()}
}

// adminCommand is a leaf admin command that talks to a master.
func adminCommand(name, summary string, extra func(fs *pflag.FlagSet), run func(ctx context.Context, c *adminapi.Client, o *adminOptions, args []string, out io.Writer) error) *command {
	o := newAdminOptions()
	return &command{name: name, summary: summary,
		flags: func(fs *pflag.FlagSet) {
			o.AddFlags(fs)
			if extra != nil {
				extra(fs)
			}
		},
		run: func(ctx context.Context, args []string, out io.Writer) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			return run(ctx, c, o, args, out)
		},
	}
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func exactArgs(args []string, names ...string) error {
	if len(args) != len(names) {
		return usagef("expected %d argument(s): %s; got %d", len(names), strings.Join(names, " "), len(args))
	}
	return nil
}

func adminRootCommand() *command {
	return &command{name: "admin", summary: "manage the masters: membership, leadership, snapshots, recovery, health", subs: []*command{
		membersCommand(), leaderCommand(), snapshotCommand(), recoverCommand(), healthCommand(), waitCommand(),
	}}
}

// memberChange is a membership command taking one member ID and --force.
func memberChange(name, summary, done string, change func(c *adminapi.Client, ctx context.Context, id string, force bool) error) *command {
	var force bool
	return adminCommand(name, summary, func(fs *pflag.FlagSet) {
		fs.BoolVar(&force, "force", false, "Do it even if it would break quorum or the member has not caught up.")
	}, func(ctx context.Context, c *adminapi.Client, _ *adminOptions, args []string, out io.Writer) error {
		if err := exactArgs(args, "ID"); err != nil {
			return err
		}
		if err := change(c, ctx, args[0], force); err != nil {
			return err
		}
		fmt.Fprintf(out, "member %s %s\n", args[0], done)
		return nil
	})
}

func membersCommand() *command {
	return &command{name: "members", summary: "list and change the masters", subs: []*command{
		adminCommand("list", "list the masters with their role and health", nil, func(ctx context.Context, c *adminapi.Client, o *adminOptions, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			members, err := c.Members(ctx)
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return printJSON(out, members)
			}
			return printMembers(out, members)
		}),
		adminCommand("add", "add a running master as a non-voter (it is promoted once caught up): add ID PEER-ADDRESS", nil, func(ctx context.Context, c *adminapi.Client, _ *adminOptions, args []string, out io.Writer) error {
			if err := exactArgs(args, "ID", "PEER-ADDRESS"); err != nil {
				return err
			}
			if err := c.AddMember(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(out, "member %s added as a non-voter; it becomes a voter once caught up\n", args[0])
			return nil
		}),
		memberChange("remove", "remove a master for good (its ID can never be reused): remove ID", "removed", (*adminapi.Client).RemoveMember),
		memberChange("promote", "make a non-voter a voter: promote ID", "is a voter", (*adminapi.Client).Promote),
		memberChange("demote", "make a voter a non-voter: demote ID", "is a non-voter", (*adminapi.Client).Demote),
	}}
}

func printMembers(out io.Writer, members []raftstore.Member) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tROLE\tLEADER\tHEALTHY\tLAST CONTACT\tAPPLIED\tLAG")
	for _, m := range members {
		role := "non-voter"
		if m.Voter {
			role = "voter"
		}
		contact, applied := "-", "-"
		if m.Status != nil {
			applied = fmt.Sprint(m.Status.AppliedIndex)
			switch {
			case m.Leader:
				contact = "leader"
			case m.Status.LastContact >= 0:
				contact = m.Status.LastContact.Round(time.Millisecond).String()
			}
		} else if m.Error != "" {
			contact = "unreachable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\t%s\t%s\t%d\n", m.ID, m.Address, role, m.Leader, m.Healthy, contact, applied, m.Lag)
	}
	return tw.Flush()
}

func leaderCommand() *command {
	var to string
	return &command{name: "leader", summary: "move leadership", subs: []*command{
		adminCommand("transfer", "hand leadership to another voter", func(fs *pflag.FlagSet) {
			fs.StringVar(&to, "to", "", "ID of the voter to hand leadership to (default: the most up-to-date one).")
		}, func(ctx context.Context, c *adminapi.Client, _ *adminOptions, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			leader, err := c.TransferLeadership(ctx, to)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "leadership transferred; the leader is %s\n", leader)
			return nil
		}),
	}}
}

func snapshotCommand() *command {
	restore := &restoreOptions{cfg: master.DefaultConfig(), bump: raftstore.DefaultRevisionBump}
	return &command{name: "snapshot", summary: "save, inspect and restore snapshots of the store", subs: []*command{
		adminCommand("save", "save a consistent, checksummed snapshot: save FILE", nil, func(ctx context.Context, c *adminapi.Client, o *adminOptions, args []string, out io.Writer) error {
			if err := exactArgs(args, "FILE"); err != nil {
				return err
			}
			info, err := saveSnapshot(ctx, c, args[0])
			if err != nil {
				return err
			}
			if o.Output == "json" {
				return printJSON(out, info)
			}
			fmt.Fprintf(out, "saved %s: revision %d, %d keys, %d bytes\n", args[0], info.Revision, info.Keys, info.Size)
			return nil
		}),
		{name: "inspect", summary: "verify a snapshot and show its revision and size per resource: inspect FILE", flags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&restore.Output, "output", "o", "table", `Output format: "table" or "json".`)
		}, run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := exactArgs(args, "FILE"); err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			info, err := raftstore.InspectSnapshot(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if restore.Output == "json" {
				return printJSON(out, info)
			}
			fmt.Fprintf(out, "revision %d, %d keys, %d bytes of keys and values, %d bytes on disk\n\n", info.Revision, info.Keys, info.Bytes, info.Size)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PREFIX\tKEYS\tBYTES")
			for _, p := range info.Prefixes {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", p.Prefix, p.Keys, p.Bytes)
			}
			return tw.Flush()
		}},
		{name: "restore", summary: "prepare a data directory as the first master of a new cluster from a snapshot: restore FILE", flags: restore.AddFlags, run: restore.run},
	}}
}

// saveSnapshot streams a snapshot into a temporary file, verifies it and renames it into place.
func saveSnapshot(ctx context.Context, c *adminapi.Client, path string) (raftstore.SnapshotInfo, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".part-*")
	if err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := c.Snapshot(ctx, tmp); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if err := tmp.Sync(); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	info, err := raftstore.InspectSnapshot(tmp)
	if err != nil {
		return raftstore.SnapshotInfo{}, fmt.Errorf("the snapshot received from %s does not verify: %w", c.Server(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	return info, nil
}

// restoreOptions are the flags of `capstan admin snapshot restore`.
type restoreOptions struct {
	outputOptions
	cfg  master.Config
	bump uint64
}

func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	c := &o.cfg
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "New data directory for the restored master (must not hold one).")
	fs.StringVar(&c.Name, "name", c.Name, "Member name of the restored master.")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "IP or host name of the restored master.")
	fs.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "IP the restored master listens on.")
	fs.IntVar(&c.APIPort, "api-port", c.APIPort, "API port of the restored master.")
	fs.IntVar(&c.PeerPort, "peer-port", c.PeerPort, "Peer port of the restored master.")
	fs.IntVar(&c.GossipPort, "gossip-port", c.GossipPort, "Gossip port of the restored master.")
	fs.StringVar(&c.LogStore, "raft-log-store", c.LogStore, `Raft log store: "wal" or "boltdb".`)
	fs.Uint64Var(&o.bump, "bump-revision", o.bump, "How far the new cluster's revisions start above the snapshot's, so no resourceVersion a client saw is reused.")
}

func (o *restoreOptions) run(ctx context.Context, args []string, out io.Writer) error {
	if err := exactArgs(args, "FILE"); err != nil {
		return err
	}
	if err := o.cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	info, err := master.PrepareRestore(args[0], o.cfg, o.bump)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %d keys at revision %d into %s; new revisions start above %d.\n", info.Keys, info.Revision, o.cfg.DataDir, info.Revision+o.bump)
	fmt.Fprintf(out, "Next:\n  capstan server --data-dir %s\n  export KUBECONFIG=%s\n  # other masters join with the token in %s\n",
		o.cfg.DataDir, filepath.Join(o.cfg.DataDir, master.AdminKubeconfigFile), filepath.Join(o.cfg.DataDir, master.JoinTokenFile))
	return nil
}

func recoverCommand() *command {
	var dataDir string
	return &command{name: "recover", summary: "after quorum loss, make a stopped master the only voter of its cluster, keeping its data",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&dataDir, "data-dir", "", "Data directory of the stopped master to recover.")
		},
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if dataDir == "" {
				return usagef("--data-dir is required")
			}
			if err := master.Recover(ctx, dataDir); err != nil {
				if errors.Is(err, raftstore.ErrClusterHealthy) {
					return fmt.Errorf("%w\nThe cluster still has a quorum: replace failed masters with `capstan admin members remove` and new joins instead", err)
				}
				return err
			}
			fmt.Fprintf(out, "recovered %s: it will start as the only voter.\nNext:\n  capstan server --data-dir %s\n  # then wipe the other masters' data dirs and --join them again with a new --name\n", dataDir, dataDir)
			return nil
		}}
}

func healthCommand() *command {
	return adminCommand("health", "exit 0 only if there is a leader and every voter is healthy", nil, func(ctx context.Context, c *adminapi.Client, o *adminOptions, args []string, out io.Writer) error {
		if err := noArgs(args); err != nil {
			return err
		}
		h, err := c.Health(ctx)
		if err != nil {
			return err
		}
		return reportHealth(out, o, h)
	})
}

func healthyVoters(h adminapi.Health) int {
	n := 0
	for _, m := range h.Members {
		if m.Voter && m.Healthy {
			n++
		}
	}
	return n
}

func reportHealth(out io.Writer, o *adminOptions, h adminapi.Health) error {
	if o.Output == "json" {
		if err := printJSON(out, h); err != nil {
			return err
		}
	} else {
		if err := printMembers(out, h.Members); err != nil {
			return err
		}
	}
	if !h.Healthy {
		return fmt.Errorf("cluster unhealthy: %s", strings.Join(h.Problems, "; "))
	}
	if o.Output != "json" {
		fmt.Fprintf(out, "\ncluster healthy: leader %s\n", h.Leader)
	}
	return nil
}

func waitCommand() *command {
	var healthy bool
	var voters int
	var timeout time.Duration
	return adminCommand("wait", "wait until the cluster is healthy (for rolling restarts)", func(fs *pflag.FlagSet) {
		fs.BoolVar(&healthy, "healthy", true, "Wait for a leader and every voter healthy.")
		fs.IntVar(&voters, "voters", 0, "Also wait for at least this many healthy voters.")
		fs.DurationVar(&timeout, "timeout", 2*time.Minute, "Give up after this long.")
	}, func(ctx context.Context, c *adminapi.Client, o *adminOptions, args []string, out io.Writer) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if !healthy {
			return usagef("wait needs a condition: --healthy")
		}
		if timeout <= 0 {
			return usagef("--timeout %s must be positive", timeout)
		}
		if voters < 0 {
			return usagef("--voters %d must not be negative", voters)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var last string
		for {
			h, err := c.Health(ctx)
			switch {
			case err != nil:
				last = err.Error()
			case h.Healthy && healthyVoters(h) >= voters:
				return reportHealth(out, o, h)
			case h.Healthy:
				last = fmt.Sprintf("%d healthy voters of the %d wanted", healthyVoters(h), voters)
			default:
				last = strings.Join(h.Problems, "; ")
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the cluster was not healthy within %s: %s", timeout, last)
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
}
