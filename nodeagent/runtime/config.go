package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/identifiers"
)

// Config configures a Containerd runtime.
type Config struct {
	// Address is the containerd gRPC socket, e.g. Daemon.Address().
	Address string
	// Namespace is the containerd namespace of Capstan's containers. Never "k8s.io": a CRI plugin
	// would treat the containers as its own.
	Namespace string
	// StateDir holds sandbox records, FIFOs and IPAM state; it must survive agent restarts.
	StateDir string
	// NetNSDir holds the pods' bind-mounted network namespaces; normally on /run, so that a reboot
	// empties it.
	NetNSDir string
	// CgroupParent is the cgroup under which pod cgroups (<parent>/pod<uid>/<container>) are made.
	CgroupParent string
	// Snapshotter is the containerd snapshotter for root filesystems.
	Snapshotter string
	// RuntimeName is the containerd runtime (shim) that runs containers.
	RuntimeName string
	// LoggerPath is the executable the shims run as container logger; empty means this process's
	// executable, which works for any binary that imports this package (see the logger package).
	LoggerPath string
	// LogMaxBytes rotates a container's log file once it would grow past this size; one rotated
	// file is kept. Zero disables rotation.
	LogMaxBytes int64
	// DialTimeout bounds one attempt to connect to containerd; New retries until its ctx ends.
	DialTimeout time.Duration
	// EventBuffer is the capacity of the Events channel.
	EventBuffer int
	// Network configures the pod network.
	Network NetworkConfig
}

// NetworkConfig configures the CNI network of the node's pods: a bridge with host-local IPAM,
// portmap for host ports and the loopback device.
type NetworkConfig struct {
	// Name is the CNI network name; CNI caches and iptables chains are keyed by it.
	Name string
	// Bridge is the host bridge device.
	Bridge string
	// Subnet is the node's pod CIDR (IPv4).
	Subnet string
	// IPMasq masquerades pod traffic leaving the subnet, which pods need to reach other networks.
	IPMasq bool
	// PluginDirs are searched for CNI plugin binaries, in order.
	PluginDirs []string
	// ConfList, when set, is a CNI configuration list used instead of the generated one.
	ConfList []byte
}

// DefaultConfig returns the configuration of a node agent that runs its own containerd with
// StartDaemon in /var/lib/capstan/containerd.
func DefaultConfig() Config {
	return Config{
		Address:      "/var/lib/capstan/containerd/containerd.sock",
		Namespace:    "capstan",
		StateDir:     "/var/lib/capstan/runtime",
		NetNSDir:     "/run/capstan/netns",
		CgroupParent: "/capstan",
		Snapshotter:  "overlayfs",
		RuntimeName:  "io.containerd.runc.v2",
		LogMaxBytes:  10 << 20,
		DialTimeout:  2 * time.Second,
		EventBuffer:  1024,
		Network: NetworkConfig{
			Name:       "capstan",
			Bridge:     "capstan0",
			Subnet:     "10.88.0.0/16",
			IPMasq:     true,
			PluginDirs: []string{"/usr/lib/cni", "/opt/cni/bin"},
		},
	}
}

// Validate reports every invalid setting at once.
func (c *Config) Validate() error {
	var errs []error
	abs := func(name, v string) {
		if !filepath.IsAbs(v) {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute path", name, v))
		}
	}
	abs("address", c.Address)
	abs("state directory", c.StateDir)
	abs("network namespace directory", c.NetNSDir)
	if c.LoggerPath != "" {
		abs("logger path", c.LoggerPath)
	}
	if err := identifiers.Validate(c.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("namespace %q: %v", c.Namespace, err))
	} else if c.Namespace == "k8s.io" {
		errs = append(errs, errors.New(`namespace "k8s.io" belongs to containerd's CRI plugin`))
	}
	if !strings.HasPrefix(c.CgroupParent, "/") || strings.Contains(c.CgroupParent, "..") {
		errs = append(errs, fmt.Errorf("cgroup parent %q must be an absolute cgroup path", c.CgroupParent))
	}
	if c.Snapshotter == "" {
		errs = append(errs, errors.New("snapshotter must be set"))
	}
	if c.RuntimeName == "" {
		errs = append(errs, errors.New("runtime name must be set"))
	}
	if c.LogMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("log max bytes %d must not be negative", c.LogMaxBytes))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dial timeout %s must be positive", c.DialTimeout))
	}
	if c.EventBuffer < 1 {
		errs = append(errs, fmt.Errorf("event buffer %d must be at least 1", c.EventBuffer))
	}
	errs = append(errs, c.Network.validate()...)
	return errors.Join(errs...)
}

func (n *NetworkConfig) validate() []error {
	var errs []error
	if len(n.PluginDirs) == 0 {
		errs = append(errs, errors.New("network: at least one CNI plugin directory is needed"))
	}
	if len(n.ConfList) > 0 {
		var v struct {
			Name    string            `json:"name"`
			Plugins []json.RawMessage `json:"plugins"`
		}
		if err := json.Unmarshal(n.ConfList, &v); err != nil {
			errs = append(errs, fmt.Errorf("network: CNI configuration list: %v", err))
		} else if v.Name == "" || len(v.Plugins) == 0 {
			errs = append(errs, errors.New("network: CNI configuration list needs a name and plugins"))
		}
		return errs
	}
	if n.Name == "" {
		errs = append(errs, errors.New("network: name must be set"))
	}
	if n.Bridge == "" || len(n.Bridge) > 15 || strings.ContainsAny(n.Bridge, "/ ") {
		errs = append(errs, fmt.Errorf("network: bridge %q must be a device name of 1 to 15 characters", n.Bridge))
	}
	if _, ipn, err := net.ParseCIDR(n.Subnet); err != nil {
		errs = append(errs, fmt.Errorf("network: subnet %q: %v", n.Subnet, err))
	} else if ones, bits := ipn.Mask.Size(); bits != 32 || ones > 30 {
		errs = append(errs, fmt.Errorf("network: subnet %q must be an IPv4 CIDR of /30 or larger", n.Subnet))
	}
	return errs
}
