package resources

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	"github.com/capstan-io/capstan/apiserver/internal/validation"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// Config holds the cluster-wide settings some resources need.
type Config struct {
	// ServiceCIDR is the range cluster IPs are allocated from.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound the node ports allocated to services.
	NodePortMin, NodePortMax int
	// DefaultTolerationSeconds is how long a new pod that states no toleration of its own
	// stays bound to a not-ready or unreachable node before it is evicted.
	DefaultTolerationSeconds int64
}

// DefaultConfig returns Kubernetes' usual settings.
func DefaultConfig() Config {
	return Config{ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"), NodePortMin: 30000, NodePortMax: 32767, DefaultTolerationSeconds: 30}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if !c.ServiceCIDR.IsValid() || !c.ServiceCIDR.Addr().Is4() || c.ServiceCIDR.Bits() > 28 || c.ServiceCIDR.Bits() < 8 {
		return fmt.Errorf("service CIDR %q must be an IPv4 prefix between /8 and /28", c.ServiceCIDR)
	}
	if c.NodePortMin < 1 || c.NodePortMax > 65535 || c.NodePortMin > c.NodePortMax {
		return fmt.Errorf("node port range %d-%d is not a valid port range", c.NodePortMin, c.NodePortMax)
	}
	if c.DefaultTolerationSeconds < 0 {
		return fmt.Errorf("default toleration seconds %d must not be negative", c.DefaultTolerationSeconds)
	}
	return nil
}

// standard returns the defaulting and validation every resource gets from the defaults and
// validation packages.
func standard(st registry.Strategy) registry.Strategy {
	st.Defaults = defaults.Create
	st.DefaultsOnUpdate = defaults.Update
	st.Validate = validation.Create
	st.ValidateUpdate = validation.Update
	st.ValidateStatusUpdate = validation.UpdateStatus
	return st
}

// All returns the served resources, core group first.
func All(cfg Config) ([]*registry.Resource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	svc := &serviceAllocator{cfg: cfg}
	all := []*registry.Resource{
		// core/v1
		{Version: "v1", Resource: "namespaces", Kind: "Namespace", ShortNames: []string{"ns"}, Strategy: namespaceStrategy()},
		{Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"}, Strategy: podStrategy(cfg)},
		{Version: "v1", Resource: "nodes", Kind: "Node", ShortNames: []string{"no"}, Strategy: nodeStrategy()},
		{Version: "v1", Resource: "services", Kind: "Service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"}, Strategy: serviceStrategy(svc)},
		{Version: "v1", Resource: "endpoints", Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"}, Strategy: standard(registry.Strategy{AllowCreateOnUpdate: true})},
		{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"}, Strategy: standard(registry.Strategy{})},
		{Version: "v1", Resource: "secrets", Kind: "Secret", Namespaced: true, Strategy: standard(registry.Strategy{Fields: secretFields})},
		{Version: "v1", Resource: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"}, Strategy: standard(registry.Strategy{})},
		{Version: "v1", Resource: "events", Kind: "Event", Namespaced: true, ShortNames: []string{"ev"}, Strategy: standard(registry.Strategy{Fields: eventFields, AllowCreateOnUpdate: true})},
		// apps/v1
		{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true, ShortNames: []string{"deploy"}, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true, Scale: true})},
		{Group: "apps", Version: "v1", Resource: "replicasets", Kind: "ReplicaSet", Namespaced: true, ShortNames: []string{"rs"}, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true, Scale: true, Fields: replicaSetFields})},
		{Group: "apps", Version: "v1", Resource: "statefulsets", Kind: "StatefulSet", Namespaced: true, ShortNames: []string{"sts"}, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true, Scale: true})},
		{Group: "apps", Version: "v1", Resource: "daemonsets", Kind: "DaemonSet", Namespaced: true, ShortNames: []string{"ds"}, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true})},
		{Group: "apps", Version: "v1", Resource: "controllerrevisions", Kind: "ControllerRevision", Namespaced: true, Strategy: standard(registry.Strategy{})},
		// batch/v1
		{Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", Namespaced: true, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true, Fields: jobFields})},
		{Group: "batch", Version: "v1", Resource: "cronjobs", Kind: "CronJob", Namespaced: true, ShortNames: []string{"cj"}, Categories: []string{"all"}, Strategy: standard(registry.Strategy{Status: true})},
		// discovery.k8s.io/v1
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice", Namespaced: true, Strategy: standard(registry.Strategy{})},
		// rbac.authorization.k8s.io/v1
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles", Kind: "Role", Namespaced: true, Strategy: standard(registry.Strategy{})},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings", Kind: "RoleBinding", Namespaced: true, Strategy: standard(registry.Strategy{})},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles", Kind: "ClusterRole", Strategy: standard(registry.Strategy{})},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding", Strategy: standard(registry.Strategy{})},
		// coordination.k8s.io/v1
		{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true, Strategy: standard(registry.Strategy{AllowCreateOnUpdate: true})},
	}
	for _, r := range all {
		r.ListKind = r.Kind + "List"
		r.Singular = singular(r.Kind)
	}
	return all, nil
}

func singular(kind string) string {
	b := []byte(kind)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// noValidation is for strategies whose writes validate elsewhere.
func noValidation(runtime.Object) field.ErrorList { return nil }
