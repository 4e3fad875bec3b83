package master

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/capstan-io/capstan/controllers/nodeipam"
	"github.com/capstan-io/capstan/raftstore"
)

// Config configures a master.
type Config struct {
	// Name is the master's stable ID (its Raft ID). It never changes for a data directory.
	Name string `json:"name"`
	// DataDir holds everything the master keeps.
	DataDir string `json:"dataDir"`
	// Advertise is the IP or host name other masters and agents reach this master at.
	Advertise string `json:"advertise"`
	// BindAddress is the IP the master listens on.
	BindAddress string `json:"bindAddress"`
	// APIPort and PeerPort are the Kubernetes API (HTTPS) and Raft peer ports; 0 picks free ports.
	APIPort  int `json:"apiPort"`
	PeerPort int `json:"peerPort"`
	// AdvertisePeerPort is the peer port other masters dial, when it differs from PeerPort
	// because something forwards to the bound port (a NAT, or the chaos suite's fault-injecting
	// proxy); 0 means PeerPort.
	AdvertisePeerPort int `json:"advertisePeerPort,omitempty"`
	// GossipPort is the memberlist port (UDP and TCP) nodes and masters gossip liveness on.
	GossipPort int `json:"gossipPort"`
	// Bootstrap starts a new cluster. Join names an existing master (https://host:port) and
	// Token the join token; neither is needed when the data directory already holds a member.
	Bootstrap bool   `json:"-"`
	Join      string `json:"-"`
	Token     string `json:"-"`
	// TLSSANs are extra names and IPs for the API serving certificate.
	TLSSANs []string `json:"tlsSANs,omitempty"`

	// LogStore is the Raft log store: "wal" or "boltdb".
	LogStore string `json:"logStore"`
	// HeartbeatTimeout and ElectionTimeout are Raft's timeouts.
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout"`
	ElectionTimeout  time.Duration `json:"electionTimeout"`
	// SnapshotThreshold is how many entries trigger a Raft snapshot.
	SnapshotThreshold uint64 `json:"snapshotThreshold"`
	// TrailingLogs is how many entries stay in the log after a snapshot, so that slightly
	// lagging followers catch up from the log rather than from a snapshot.
	TrailingLogs uint64 `json:"trailingLogs,omitempty"`
	// SnapshotInterval is how often SnapshotThreshold is checked.
	SnapshotInterval time.Duration `json:"snapshotInterval,omitempty"`
	// QuotaBytes limits the store's size.
	QuotaBytes int64 `json:"quotaBytes"`
	// DefaultTolerationSeconds is how long pods without their own toleration stay on a
	// not-ready or unreachable node before they are evicted and replaced.
	DefaultTolerationSeconds int64 `json:"defaultTolerationSeconds"`
	// DisableControllers runs no scheduler or controllers on this master when it leads.
	DisableControllers bool `json:"disableControllers,omitempty"`
	// DisableFastFailover leaves leader deaths to Raft's heartbeat timeout alone (see
	// raftstore.Config.FastFailover).
	DisableFastFailover bool `json:"disableFastFailover,omitempty"`
	// ServiceCIDR is the range of service cluster IPs; NodePortRange is "min-max".
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterCIDR is the pod network; every node gets a block of NodeCIDRMaskSize bits from it.
	ClusterCIDR      string `json:"clusterCIDR,omitempty"`
	NodeCIDRMaskSize int    `json:"nodeCIDRMaskSize,omitempty"`
	NodePortRange    string `json:"nodePortRange"`

	// Logger receives the master's logs.
	Logger *slog.Logger `json:"-"`
}

// DefaultConfig returns the defaults of `capstan server`.
func DefaultConfig() Config {
	sc := raftstore.DefaultConfig()
	ipam := nodeipam.DefaultOptions()
	return Config{
		BindAddress: "0.0.0.0", APIPort: 6443, PeerPort: 7000, GossipPort: 7946,
		LogStore: sc.LogStore, HeartbeatTimeout: sc.HeartbeatTimeout, ElectionTimeout: sc.ElectionTimeout,
		SnapshotThreshold: sc.SnapshotThreshold, TrailingLogs: sc.TrailingLogs, SnapshotInterval: sc.SnapshotInterval, QuotaBytes: sc.QuotaBytes,
		ServiceCIDR: "10.96.0.0/12", NodePortRange: "30000-32767", DefaultTolerationSeconds: 30,
		ClusterCIDR: ipam.ClusterCIDR.String(), NodeCIDRMaskSize: ipam.NodeMaskSize,
	}
}

// Validate reports every invalid setting, naming the flag and the bad value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		add("--data-dir is required")
	}
	if c.Name == "" {
		add("--name is required")
	} else if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
		add("--name %q is not a valid member name: %s", c.Name, strings.Join(msgs, "; "))
	}
	if c.Advertise == "" {
		add("--advertise is required: the IP or host other masters and agents reach this master at")
	} else if ip := net.ParseIP(c.Advertise); ip != nil && ip.IsUnspecified() {
		add("--advertise %q must be an address others can reach, not an unspecified one", c.Advertise)
	} else if strings.Contains(c.Advertise, ":") && net.ParseIP(c.Advertise) == nil {
		add("--advertise %q must be an IP or a host name without a port", c.Advertise)
	}
	if net.ParseIP(c.BindAddress) == nil {
		add("--bind-address %q is not an IP address", c.BindAddress)
	}
	for flag, p := range map[string]int{"--api-port": c.APIPort, "--peer-port": c.PeerPort, "--advertise-peer-port": c.AdvertisePeerPort, "--gossip-port": c.GossipPort} {
		if p < 0 || p > 65535 {
			add("%s %d is not a port number (0-65535)", flag, p)
		}
	}
	if c.Bootstrap && c.Join != "" {
		add("--bootstrap and --join %q exclude each other: a master either starts a cluster or joins one", c.Join)
	}
	if c.Join != "" {
		u, err := url.Parse(c.Join)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			add("--join %q must be an https URL of a master, like https://10.0.0.1:6443", c.Join)
		}
		if c.Token == "" {
			add("--join needs --token: the join token printed by the first master")
		}
	}
	if c.LogStore != raftstore.LogStoreWAL && c.LogStore != raftstore.LogStoreBolt {
		add("--raft-log-store %q must be %q or %q", c.LogStore, raftstore.LogStoreWAL, raftstore.LogStoreBolt)
	}
	if c.HeartbeatTimeout < 10*time.Millisecond {
		add("--raft-heartbeat-timeout %s is below the 10ms minimum", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		add("--raft-election-timeout %s is below --raft-heartbeat-timeout %s", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		add("--raft-snapshot-interval %s is below the 5ms minimum", c.SnapshotInterval)
	}
	if _, err := netip.ParsePrefix(c.ServiceCIDR); err != nil {
		add("--service-cidr %q is not a CIDR: %v", c.ServiceCIDR, err)
	}
	if ipam, err := c.nodeIPAM(); err != nil {
		add("--cluster-cidr %q: %v", c.ClusterCIDR, err)
	} else if err := ipam.Validate(); err != nil {
		add("--cluster-cidr %s with --node-cidr-mask-size %d: %v", c.ClusterCIDR, c.NodeCIDRMaskSize, err)
	}
	if c.DefaultTolerationSeconds < 0 {
		add("--default-toleration-seconds %d must not be negative", c.DefaultTolerationSeconds)
	}
	if _, _, err := parsePortRange(c.NodePortRange); err != nil {
		add("--node-port-range %q: %v", c.NodePortRange, err)
	}
	if c.QuotaBytes < 16<<20 {
		add("--store-quota-bytes %d is below the 16 MiB minimum", c.QuotaBytes)
	}
	return errors.Join(errs...)
}

// nodeIPAM returns the pod network settings of the node IPAM controller.
func (c *Config) nodeIPAM() (nodeipam.Options, error) {
	p, err := netip.ParsePrefix(c.ClusterCIDR)
	if err != nil {
		return nodeipam.Options{}, err
	}
	return nodeipam.Options{ClusterCIDR: p, NodeMaskSize: c.NodeCIDRMaskSize}, nil
}

// PeerAddress returns the Raft address other masters dial: the advertised host with
// AdvertisePeerPort, or with PeerPort when AdvertisePeerPort is 0.
func (c *Config) PeerAddress() string {
	port := c.PeerPort
	if c.AdvertisePeerPort != 0 {
		port = c.AdvertisePeerPort
	}
	return net.JoinHostPort(c.Advertise, strconv.Itoa(port))
}

func parsePortRange(s string) (int, int, error) {
	var lo, hi int
	if n, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || n != 2 || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, errors.New("must be MIN-MAX with 1 <= MIN <= MAX <= 65535")
	}
	return lo, hi, nil
}

// settingsFile is the master's configuration as persisted at its first start, so a restart
// with only --data-dir keeps its identity and addresses.
const settingsFile = "server.json"

// LoadSettings reads the settings a data directory was first started with; ok is false for a
// new data directory.
func LoadSettings(dataDir string) (cfg Config, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dataDir, settingsFile))
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, false, nil
	}
	if err != nil {
		return Config{}, false, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, false, fmt.Errorf("%s is corrupt: %w", filepath.Join(dataDir, settingsFile), err)
	}
	cfg.DataDir = dataDir
	return cfg, true, nil
}

// Endpoints are where a running master can be reached; it writes them to endpoints.json in
// its data directory at every start (ports may be chosen at random).
type Endpoints struct {
	Name        string `json:"name"`
	APIURL      string `json:"apiURL"`
	PeerAddress string `json:"peerAddress"`
	PID         int    `json:"pid"`
}

// EndpointsFile is the name of the endpoints file in a master's data directory.
const EndpointsFile = "endpoints.json"

// Files a bootstrap master writes beside its data: the admin kubeconfig and the join token.
const (
	AdminKubeconfigFile = "admin.kubeconfig"
	JoinTokenFile       = "join-token"
)
