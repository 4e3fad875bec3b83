package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/capstan-io/capstan/cmd/capstan/internal/master"
)

// serverOptions are the flags of `capstan server`.
type serverOptions struct {
	cfg        master.Config
	configFile string
	logLevel   string
}

func newServerOptions() *serverOptions {
	host, _ := os.Hostname()
	o := &serverOptions{cfg: master.DefaultConfig(), logLevel: "info"}
	o.cfg.Name = strings.ToLower(strings.Split(host, ".")[0])
	return o
}

func (o *serverOptions) AddFlags(fs *pflag.FlagSet) {
	c := &o.cfg
	fs.StringVar(&o.configFile, "config", o.configFile, "YAML or JSON file of flag values (keys are flag names); flags on the command line win.")
	fs.StringVar(&c.Name, "name", c.Name, "Member name: the master's stable ID. Kept in the data dir; never reused after removal.")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "Directory for the store, certificates and settings.")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "IP or host name other masters and agents reach this master at.")
	fs.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "IP to listen on.")
	fs.IntVar(&c.APIPort, "api-port", c.APIPort, "Kubernetes API port (HTTPS); 0 picks a free port.")
	fs.IntVar(&c.PeerPort, "peer-port", c.PeerPort, "Raft peer port (mutual TLS); 0 picks a free port.")
	fs.IntVar(&c.AdvertisePeerPort, "advertise-peer-port", c.AdvertisePeerPort, "Raft peer port other masters dial, when a proxy or NAT forwards it to --peer-port; 0 means --peer-port.")
	fs.IntVar(&c.GossipPort, "gossip-port", c.GossipPort, "Liveness gossip port (UDP and TCP, encrypted); 0 picks a free port.")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "Start a new cluster with this master as its first member.")
	fs.StringVar(&c.Join, "join", c.Join, "URL of a master of the cluster to join, like https://10.0.0.1:6443.")
	fs.StringVar(&c.Token, "token", c.Token, "Join token, printed by the first master (data-dir/join-token).")
	fs.StringSliceVar(&c.TLSSANs, "tls-san", c.TLSSANs, "Extra DNS names or IPs for the API certificate.")
	fs.StringVar(&c.LogStore, "raft-log-store", c.LogStore, `Raft log store: "wal" or "boltdb".`)
	fs.DurationVar(&c.HeartbeatTimeout, "raft-heartbeat-timeout", c.HeartbeatTimeout, "Raft heartbeat timeout.")
	fs.DurationVar(&c.ElectionTimeout, "raft-election-timeout", c.ElectionTimeout, "Raft election timeout.")
	fs.Uint64Var(&c.SnapshotThreshold, "raft-snapshot-threshold", c.SnapshotThreshold, "Raft entries between snapshots.")
	fs.Uint64Var(&c.TrailingLogs, "raft-trailing-logs", c.TrailingLogs, "Raft entries kept after a snapshot, so lagging followers catch up from the log.")
	fs.DurationVar(&c.SnapshotInterval, "raft-snapshot-interval", c.SnapshotInterval, "How often the Raft snapshot threshold is checked.")
	fs.Int64Var(&c.QuotaBytes, "store-quota-bytes", c.QuotaBytes, "Largest size of the store; writes beyond it fail.")
	fs.Int64Var(&c.DefaultTolerationSeconds, "default-toleration-seconds", c.DefaultTolerationSeconds, "Seconds a pod without its own toleration stays on a not-ready or unreachable node before it is evicted.")
	fs.BoolVar(&c.DisableFastFailover, "disable-fast-failover", c.DisableFastFailover, "Wait for the Raft heartbeat timeout after a leader's process dies, instead of electing a new leader as soon as its peer port refuses connections.")
	fs.BoolVar(&c.DisableControllers, "disable-controllers", c.DisableControllers, "Run no scheduler or controllers on this master, even when it leads.")
	fs.StringVar(&c.ServiceCIDR, "service-cidr", c.ServiceCIDR, "Range of service cluster IPs.")
	fs.StringVar(&c.ClusterCIDR, "cluster-cidr", c.ClusterCIDR, "Pod network; every node gets a block of it for its pods' addresses.")
	fs.IntVar(&c.NodeCIDRMaskSize, "node-cidr-mask-size", c.NodeCIDRMaskSize, "Prefix length of each node's block of --cluster-cidr.")
	fs.StringVar(&c.NodePortRange, "node-port-range", c.NodePortRange, "Range of service node ports, MIN-MAX.")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "Log level: debug, info, warn or error.")
}

// applyConfigFile sets flags from a YAML or JSON file whose keys are flag names, except flags
// given on the command line.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	values := map[string]string{}
	for key, v := range raw {
		if x, ok := v.([]any); ok {
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			values[key] = strings.Join(parts, ",")
		} else {
			values[key] = fmt.Sprint(v)
		}
	}
	return applyValues(fs, values, "--config "+path)
}

// applyValues sets flags that were not given on the command line (or by an earlier source).
func applyValues(fs *pflag.FlagSet, values map[string]string, source string) error {
	var errs []error
	for key, v := range values {
		f := fs.Lookup(key)
		if f == nil || key == "config" {
			errs = append(errs, fmt.Errorf("%s: unknown setting %q (keys are flag names)", source, key))
			continue
		}
		if f.Changed {
			continue
		}
		if err := fs.Set(key, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %v", source, key, err))
		}
	}
	return errors.Join(errs...)
}

// settingsValues turns the settings a data directory recorded into flag values.
func settingsValues(c master.Config) map[string]string {
	v := map[string]string{
		"name": c.Name, "advertise": c.Advertise, "bind-address": c.BindAddress,
		"api-port": fmt.Sprint(c.APIPort), "peer-port": fmt.Sprint(c.PeerPort), "gossip-port": fmt.Sprint(c.GossipPort), "tls-san": strings.Join(c.TLSSANs, ","),
		"raft-log-store": c.LogStore, "raft-heartbeat-timeout": c.HeartbeatTimeout.String(), "raft-election-timeout": c.ElectionTimeout.String(),
		"raft-snapshot-threshold": fmt.Sprint(c.SnapshotThreshold), "store-quota-bytes": fmt.Sprint(c.QuotaBytes),
		"service-cidr": c.ServiceCIDR, "node-port-range": c.NodePortRange,
	}
	// Settings added later are absent (zero) in older data directories: keep the defaults.
	if c.AdvertisePeerPort != 0 {
		v["advertise-peer-port"] = fmt.Sprint(c.AdvertisePeerPort)
	}
	if c.TrailingLogs != 0 {
		v["raft-trailing-logs"] = fmt.Sprint(c.TrailingLogs)
	}
	if c.ClusterCIDR != "" {
		v["cluster-cidr"], v["node-cidr-mask-size"] = c.ClusterCIDR, fmt.Sprint(c.NodeCIDRMaskSize)
	}
	if c.SnapshotInterval != 0 {
		v["raft-snapshot-interval"] = c.SnapshotInterval.String()
	}
	return v
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q must be debug, info, warn or error", s)
	}
	return l, nil
}

func serverCommand() *command {
	o := newServerOptions()
	var fs *pflag.FlagSet
	return &command{
		name:    "server",
		summary: "run a master: the replicated store, the Kubernetes API and the controllers",
		flags: func(f *pflag.FlagSet) {
			fs = f
			o.AddFlags(f)
		},
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if o.configFile != "" {
				if err := applyConfigFile(fs, o.configFile); err != nil {
					return usagef("%v", err)
				}
			}
			level, err := parseLogLevel(o.logLevel)
			if err != nil {
				return usagef("%v", err)
			}
			// A restart needs only --data-dir: what the first start recorded fills the rest.
			if o.cfg.DataDir != "" {
				saved, ok, err := master.LoadSettings(o.cfg.DataDir)
				if err != nil {
					return err
				}
				if ok {
					if err := applyValues(fs, settingsValues(saved), o.cfg.DataDir); err != nil {
						return err
					}
				}
			}
			cfg := o.cfg
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			m, err := master.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "capstan master %s serving the API at %s\n", cfg.Name, m.Endpoints().APIURL)
			<-ctx.Done()
			return m.Shutdown()
		},
	}
}
