package pods

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Config configures a Manager.
type Config struct {
	// NodeName is the name of this node; Sync ignores pods bound to other nodes. Required.
	NodeName string
	// NodeIPs are the node's addresses, primary first, reported as the pods' hostIP(s).
	NodeIPs []string
	// Runtime runs the sandboxes and containers. Required.
	Runtime runtime.Runtime
	// Client writes pod status, deletes finished pods and reads configMaps and secrets. Required.
	Client kubernetes.Interface
	// RootDir holds the per-pod directories RootDir/pods/<uid> (volumes, etc-hosts, resolv.conf).
	RootDir string
	// LogDir is the root of the containers' log files (see runtime.LogPath).
	LogDir string
	// ClusterDNS are the cluster DNS servers given to ClusterFirst pods; when empty such pods get
	// the host's resolver configuration, as the kubelet does.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain, e.g. cluster.local.
	ClusterDomain string
	// ResolvConf is the host resolver configuration that pods with dnsPolicy Default (or
	// ClusterFirst without ClusterDNS) get.
	ResolvConf string
	// NodeAllocatable is what resourceFieldRef reports for a container without a limit; when
	// nil such a variable resolves to "0".
	NodeAllocatable corev1.ResourceList
	// Recorder receives the pods' events; nil records none.
	Recorder record.EventRecorder
	// Logger receives the workers' logs; nil discards them.
	Logger *slog.Logger
	// Clock measures back-offs, probe periods, coalescing and resyncs; nil means the real clock.
	Clock clock.WithTicker

	// ResyncPeriod is how often every pod is synced without a reason (events can be lost).
	ResyncPeriod time.Duration
	// StatusInterval is the shortest time between two status writes of a pod, unless its phase
	// changes; zero writes every change at once.
	StatusInterval time.Duration
	// BackoffBase and BackoffMax bound the restart back-off of crashing containers and the
	// image pull back-off: the delay doubles from BackoffBase up to BackoffMax and is forgotten
	// after 2*BackoffMax without a failure.
	BackoffBase, BackoffMax time.Duration
	// ConfigRefreshPeriod is how often configMap, secret and downward API volumes are rewritten
	// from the API; zero writes them only when the pod starts.
	ConfigRefreshPeriod time.Duration
	// DefaultGracePeriod is the grace period used when the pod gives none.
	DefaultGracePeriod time.Duration
	// APITimeout bounds each API request.
	APITimeout time.Duration
}

// DefaultConfig returns the kubelet's defaults: back-off from 10 s to 5 min, a status write at
// most every 500 ms, a resync every 10 s. NodeName, Runtime and Client must still be set.
func DefaultConfig() Config {
	return Config{
		RootDir:             "/var/lib/capstan/pods",
		LogDir:              "/var/log/pods",
		ClusterDomain:       "cluster.local",
		ResolvConf:          "/etc/resolv.conf",
		ResyncPeriod:        10 * time.Second,
		StatusInterval:      500 * time.Millisecond,
		BackoffBase:         10 * time.Second,
		BackoffMax:          5 * time.Minute,
		ConfigRefreshPeriod: time.Minute,
		DefaultGracePeriod:  30 * time.Second,
		APITimeout:          10 * time.Second,
	}
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("pods: NodeName is required"))
	}
	if c.Runtime == nil {
		errs = append(errs, errors.New("pods: Runtime is required"))
	}
	if c.Client == nil {
		errs = append(errs, errors.New("pods: Client is required"))
	}
	for _, ip := range c.NodeIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("pods: node IP %q is not an IP address", ip))
		}
	}
	for _, ip := range c.ClusterDNS {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("pods: cluster DNS %q is not an IP address", ip))
		}
	}
	if !filepath.IsAbs(c.RootDir) {
		errs = append(errs, fmt.Errorf("pods: RootDir %q must be an absolute path", c.RootDir))
	}
	if !filepath.IsAbs(c.LogDir) {
		errs = append(errs, fmt.Errorf("pods: LogDir %q must be an absolute path", c.LogDir))
	}
	if c.ResolvConf == "" {
		errs = append(errs, errors.New("pods: ResolvConf is required"))
	}
	if c.ResyncPeriod <= 0 {
		errs = append(errs, fmt.Errorf("pods: ResyncPeriod %s must be positive", c.ResyncPeriod))
	}
	if c.StatusInterval < 0 {
		errs = append(errs, fmt.Errorf("pods: StatusInterval %s must not be negative", c.StatusInterval))
	}
	if c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("pods: back-off %s to %s must be positive and increasing", c.BackoffBase, c.BackoffMax))
	}
	if c.ConfigRefreshPeriod < 0 {
		errs = append(errs, fmt.Errorf("pods: ConfigRefreshPeriod %s must not be negative", c.ConfigRefreshPeriod))
	}
	if c.DefaultGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("pods: DefaultGracePeriod %s must not be negative", c.DefaultGracePeriod))
	}
	if c.APITimeout <= 0 {
		errs = append(errs, fmt.Errorf("pods: APITimeout %s must be positive", c.APITimeout))
	}
	return errors.Join(errs...)
}
