package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Joiner asks a master for a node identity. The command line implements it with the join
// token: it pins the cluster CA by the token's hash and checks the CA it gets back.
type Joiner interface {
	// Join sends req (Role, Name, CSRs and serving names are set; the Joiner adds the token)
	// to one of servers and returns the master's answer. It retries while no master answers,
	// until ctx ends.
	Join(ctx context.Context, servers []string, req adminapi.JoinRequest) (*adminapi.JoinResponse, error)
}

// Config configures an agent.
type Config struct {
	// Name is the node's name (a DNS-1123 subdomain); hollow nodes are named <Name>-<i>.
	Name string
	// DataDir holds the identity, the runtime's state and, by default, the private containerd.
	DataDir string
	// Servers are the masters' API URLs for the first join; later starts use the saved list.
	Servers []string
	// Joiner gets the identity on the first start; nil when the data directory has one.
	Joiner Joiner
	// Advertise is the node's IP: its InternalIP, the kubelet API and gossip address.
	Advertise string
	// BindAddress is the IP the kubelet API and gossip listen on.
	BindAddress string
	// KubeletPort is the kubelet API's HTTPS port; 0 picks a free one.
	KubeletPort int
	// GossipPort is the gossip port (UDP and TCP); 0 picks a free one.
	GossipPort int
	// ContainerdAddress is the socket of a containerd to use; empty starts a private one under
	// <DataDir>/containerd.
	ContainerdAddress string
	// Runtime is the runtime's configuration; its Address, StateDir and Network.Subnet are set
	// by the agent (the subnet is the Node's spec.podCIDR), empty NetNSDir and CgroupParent
	// get per-node defaults.
	Runtime runtime.Config
	// ImportTestImage imports the busybox test image (testimage.DefaultName) at start.
	ImportTestImage bool
	// MaxPods is the Node's pod capacity.
	MaxPods int
	// ClusterDNS and ClusterDomain are written to the pods' resolv.conf.
	ClusterDNS    []string
	ClusterDomain string
	// StatusInterval is how often a real node checks its readiness (whether the container
	// runtime answers) and renews its Lease, and how long a failed status report waits before
	// it is retried.
	StatusInterval time.Duration
	// StatusReportInterval is the longest time between two writes of the Node's status while
	// nothing changes; a change (readiness, or a Ready condition someone else overwrote) is
	// written at once. Liveness is gossip, so this is a safety net, not a heartbeat. Zero means
	// DefaultStatusReportInterval for a real node and DefaultHollowStatusReportInterval for
	// hollow nodes.
	StatusReportInterval time.Duration
	// Hollow, when positive, runs that many simulated nodes instead of a real one (RunHollow).
	Hollow int
	// HollowGossip is how many hollow nodes (the first ones) join gossip with a member of their
	// own.
	HollowGossip int
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
}

// Defaults of Config.StatusReportInterval.
const (
	// DefaultStatusReportInterval is how often a real node rewrites an unchanged status.
	DefaultStatusReportInterval = time.Minute
	// DefaultHollowStatusReportInterval is how often a hollow node rewrites its unchanged
	// status: 1,000 idle hollow nodes then cost about 3 writes per second.
	DefaultHollowStatusReportInterval = 5 * time.Minute
)

// DefaultConfig returns the defaults of `capstan agent`.
func DefaultConfig() Config {
	rc := runtime.DefaultConfig()
	rc.NetNSDir, rc.CgroupParent = "", ""
	return Config{
		DataDir:        "/var/lib/capstan/agent",
		BindAddress:    "0.0.0.0",
		KubeletPort:    10250,
		GossipPort:     7946,
		Runtime:        rc,
		MaxPods:        110,
		ClusterDomain:  "cluster.local",
		StatusInterval: 10 * time.Second,
		HollowGossip:   50,
	}
}

// Validate reports every invalid setting at once; the messages name the offending values.
func (c *Config) Validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("name %q is invalid: %s", c.Name, strings.Join(msgs, "; ")))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is required"))
	} else if !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("data directory %q must be an absolute path", c.DataDir))
	}
	for _, s := range c.Servers {
		if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("server %q is not an https:// URL", s))
		}
	}
	if net.ParseIP(c.Advertise) == nil {
		errs = append(errs, fmt.Errorf("advertise address %q is not an IP", c.Advertise))
	} else if ip := net.ParseIP(c.Advertise); ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("advertise address %q must be a reachable IP", c.Advertise))
	}
	if net.ParseIP(c.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("bind address %q is not an IP", c.BindAddress))
	}
	for name, p := range map[string]int{"kubelet port": c.KubeletPort, "gossip port": c.GossipPort} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is out of range 0-65535", name, p))
		}
	}
	if c.ContainerdAddress != "" && !filepath.IsAbs(c.ContainerdAddress) {
		errs = append(errs, fmt.Errorf("containerd address %q must be an absolute socket path", c.ContainerdAddress))
	}
	if c.MaxPods < 1 {
		errs = append(errs, fmt.Errorf("max pods %d must be positive", c.MaxPods))
	}
	for _, ip := range c.ClusterDNS {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("cluster DNS %q is not an IP", ip))
		}
	}
	if c.StatusInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("status interval %s is below 100ms", c.StatusInterval))
	}
	if c.StatusReportInterval < 0 {
		errs = append(errs, fmt.Errorf("status report interval %s must not be negative", c.StatusReportInterval))
	} else if c.StatusReportInterval != 0 && c.StatusReportInterval < c.StatusInterval {
		errs = append(errs, fmt.Errorf("status report interval %s is below the status interval %s", c.StatusReportInterval, c.StatusInterval))
	}
	if c.Hollow < 0 || c.Hollow > 10000 {
		errs = append(errs, fmt.Errorf("hollow %d must be between 0 and 10000", c.Hollow))
	}
	if c.HollowGossip < 0 {
		errs = append(errs, fmt.Errorf("hollow gossip %d must not be negative", c.HollowGossip))
	}
	if c.Hollow > 0 && c.Name != "" {
		last := fmt.Sprintf("%s-%d", c.Name, c.Hollow-1)
		if msgs := validation.IsDNS1123Subdomain(last); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("hollow node name %q is invalid: %s", last, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// reportInterval returns the status report interval in effect: StatusReportInterval, or the
// default of the mode when it is zero.
func (c *Config) reportInterval() time.Duration {
	switch {
	case c.StatusReportInterval > 0:
		return c.StatusReportInterval
	case c.Hollow > 0:
		return DefaultHollowStatusReportInterval
	}
	return DefaultStatusReportInterval
}
