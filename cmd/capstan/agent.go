package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/cmd/capstan/internal/master"
	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/nodeagent/agent"
	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

// testImageName is the name the busybox test image is imported under.
const testImageName = testimage.DefaultName

// agentOptions are the flags of `capstan agent`.
type agentOptions struct {
	cfg      agent.Config
	servers  []string
	token    string
	logLevel string
}

func newAgentOptions() *agentOptions {
	host, _ := os.Hostname()
	o := &agentOptions{cfg: agent.DefaultConfig(), logLevel: "info"}
	o.cfg.Name = strings.ToLower(strings.Split(host, ".")[0])
	return o
}

func (o *agentOptions) AddFlags(fs *pflag.FlagSet) {
	c := &o.cfg
	fs.StringSliceVar(&o.servers, "server", o.servers, "API URLs of masters to join through, like https://10.0.0.1:6443 (comma-separated or repeated); needed on the first start only.")
	fs.StringVar(&o.token, "token", o.token, "Join token (a master's data-dir/join-token); needed on the first start only.")
	fs.StringVar(&c.Name, "name", c.Name, "Node name; hollow nodes are named <name>-0 ... <name>-<N-1>.")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "Directory for the node's identity, pods, logs and (by default) its private containerd.")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "IP the masters reach this node at: its InternalIP, kubelet API and gossip address.")
	fs.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "IP the kubelet API and gossip listen on.")
	fs.IntVar(&c.KubeletPort, "kubelet-port", c.KubeletPort, "Kubelet API port (HTTPS, mutual TLS); 0 picks a free port.")
	fs.IntVar(&c.GossipPort, "gossip-port", c.GossipPort, "Liveness gossip port (UDP and TCP); 0 picks a free port.")
	fs.StringVar(&c.ContainerdAddress, "containerd-address", c.ContainerdAddress, "Socket of a containerd to use; empty starts a private containerd under --data-dir.")
	fs.StringVar(&c.Runtime.Network.Bridge, "cni-bridge", c.Runtime.Network.Bridge, "Host bridge of the pod network (one per node agent on a host).")
	fs.BoolVar(&c.ImportTestImage, "import-test-image", c.ImportTestImage, "Import the busybox test image "+testImageName+" into containerd at start.")
	fs.IntVar(&c.MaxPods, "max-pods", c.MaxPods, "Pods the node accepts.")
	fs.StringSliceVar(&c.ClusterDNS, "cluster-dns", c.ClusterDNS, "DNS server IPs for the pods' resolv.conf (none: the host's resolver).")
	fs.StringVar(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "Cluster DNS domain.")
	fs.DurationVar(&c.StatusInterval, "node-status-interval", c.StatusInterval, "How often a real node checks its readiness and renews its Lease (the status is written only when it changes, or every --node-status-report-interval).")
	fs.DurationVar(&c.StatusReportInterval, "node-status-report-interval", c.StatusReportInterval,
		"Longest time between two writes of an unchanged node status (liveness is gossip, not this); 0 means 1m for a real node, 5m for hollow nodes.")
	fs.IntVar(&c.Hollow, "hollow", c.Hollow, "Run this many simulated nodes (fake runtime) instead of a real one.")
	fs.IntVar(&c.HollowGossip, "hollow-gossip", c.HollowGossip, "How many of the hollow nodes join gossip with a member of their own.")
	fs.StringVar(&o.logLevel, "log-level", o.logLevel, "Log level: debug, info, warn or error.")
}

// Validate reports every invalid flag at once.
func (o *agentOptions) Validate() error {
	c := &o.cfg
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--name %q is invalid: %s", c.Name, strings.Join(msgs, "; ")))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	for _, s := range o.servers {
		if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--server %q is not an https:// URL", s))
		}
	}
	if o.token != "" {
		if _, _, err := pki.ParseJoinToken(o.token); err != nil {
			errs = append(errs, fmt.Errorf("--token: %v", err))
		}
		if len(o.servers) == 0 {
			errs = append(errs, errors.New("--token needs --server"))
		}
	}
	if ip := net.ParseIP(c.Advertise); ip == nil || ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("--advertise %q must be this node's IP address", c.Advertise))
	}
	if net.ParseIP(c.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", c.BindAddress))
	}
	if c.KubeletPort < 0 || c.KubeletPort > 65535 {
		errs = append(errs, fmt.Errorf("--kubelet-port %d is out of range 0-65535", c.KubeletPort))
	}
	if c.GossipPort < 0 || c.GossipPort > 65535 {
		errs = append(errs, fmt.Errorf("--gossip-port %d is out of range 0-65535", c.GossipPort))
	}
	if c.ContainerdAddress != "" && !filepath.IsAbs(c.ContainerdAddress) {
		errs = append(errs, fmt.Errorf("--containerd-address %q must be an absolute socket path", c.ContainerdAddress))
	}
	if b := c.Runtime.Network.Bridge; b == "" || len(b) > 15 || strings.ContainsAny(b, "/ ") {
		errs = append(errs, fmt.Errorf("--cni-bridge %q must be a device name of 1 to 15 characters", b))
	}
	if c.MaxPods < 1 {
		errs = append(errs, fmt.Errorf("--max-pods %d must be positive", c.MaxPods))
	}
	for _, ip := range c.ClusterDNS {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--cluster-dns %q is not an IP address", ip))
		}
	}
	if c.StatusInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--node-status-interval %s is below 100ms", c.StatusInterval))
	}
	if c.StatusReportInterval < 0 {
		errs = append(errs, fmt.Errorf("--node-status-report-interval %s must not be negative", c.StatusReportInterval))
	} else if c.StatusReportInterval != 0 && c.StatusReportInterval < c.StatusInterval {
		errs = append(errs, fmt.Errorf("--node-status-report-interval %s is below --node-status-interval %s", c.StatusReportInterval, c.StatusInterval))
	}
	if c.Hollow < 0 || c.Hollow > 10000 {
		errs = append(errs, fmt.Errorf("--hollow %d must be between 0 and 10000", c.Hollow))
	}
	if c.HollowGossip < 0 {
		errs = append(errs, fmt.Errorf("--hollow-gossip %d must not be negative", c.HollowGossip))
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Config returns the agent's configuration.
func (o *agentOptions) Config() (agent.Config, error) {
	cfg := o.cfg
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return cfg, err
	}
	cfg.DataDir, cfg.Servers = dir, o.servers
	if o.token != "" {
		cfg.Joiner = &tokenJoiner{token: o.token, log: cfg.Logger}
	}
	return cfg, cfg.Validate()
}

func agentCommand() *command {
	o := newAgentOptions()
	return &command{
		name:    "agent",
		summary: "run a node agent: join the cluster, register the node and run its pods on containerd",
		flags:   o.AddFlags,
		run: func(ctx context.Context, args []string, out io.Writer) error {
			if err := noArgs(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return usagef("%v", err)
			}
			level, _ := parseLogLevel(o.logLevel)
			o.cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg, err := o.Config()
			if err != nil {
				return usagef("%v", err)
			}
			if cfg.Hollow == 0 && cfg.ContainerdAddress == "" {
				if err := runtime.CheckHost(); err != nil {
					return err
				}
			}
			if cfg.Hollow > 0 {
				fmt.Fprintf(out, "capstan agent: %d hollow nodes %s-0 ... %s-%d\n", cfg.Hollow, cfg.Name, cfg.Name, cfg.Hollow-1)
			} else {
				fmt.Fprintf(out, "capstan agent: node %s\n", cfg.Name)
			}
			return agent.Run(ctx, cfg)
		},
	}
}

// joinAttemptTimeout is how long one master is tried before the next.
const joinAttemptTimeout = 10 * time.Second

// tokenJoiner joins with the join token: it trusts only a master whose CA has the token's
// hash, and checks the CA it gets back.
type tokenJoiner struct {
	token string
	log   *slog.Logger
}

var _ agent.Joiner = (*tokenJoiner)(nil)

// Join implements agent.Joiner: it tries the servers in turn until one answers or ctx ends.
func (j *tokenJoiner) Join(ctx context.Context, servers []string, req adminapi.JoinRequest) (*adminapi.JoinResponse, error) {
	caHash, _, err := pki.ParseJoinToken(j.token)
	if err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	req.Token = j.token
	log := j.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for i := 0; ; i++ {
		server := servers[i%len(servers)]
		actx, cancel := context.WithTimeout(ctx, joinAttemptTimeout)
		resp, err := master.RequestJoin(actx, server, req, log)
		cancel()
		if err == nil {
			if got, err := pki.CAHash([]byte(resp.CACert)); err != nil || got != caHash {
				return nil, fmt.Errorf("%w: the master at %s answered with a CA that does not match the join token", agent.ErrJoinRefused, server)
			}
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if actx.Err() == nil {
			return nil, err // refused by the master: final
		}
		log.Info("no answer to the join request; trying the next master", "master", server)
	}
}
