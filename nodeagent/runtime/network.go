package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"

	gocni "github.com/containerd/go-cni"
	corev1 "k8s.io/api/core/v1"
)

// Pod network variants, recorded in each sandbox so that its DEL runs the plugins its ADD ran.
const (
	// networkLegacy is what agents before the variants attached every pod with: the bridge
	// masquerading per pod (an iptables chain each) and portmap.
	networkLegacy = ""
	// networkPlain is bridge + host-local, for pods without host ports; the node masquerades
	// the whole subnet with one chain (nodeMasquerade).
	networkPlain = "plain"
	// networkPorts is networkPlain followed by portmap, for pods with host ports.
	networkPorts = "ports"
)

// podNetworks are the loaded CNI configurations, one per variant. Per-pod iptables work is the
// most expensive part of a pod's start (every iptables call takes the host-wide xtables lock and
// reads the whole ruleset), so pods without host ports skip portmap, and masquerading is one
// rule set for the node rather than a chain per pod.
type podNetworks struct {
	plain, ports gocni.CNI
	// legacy detaches sandboxes attached by an older agent; loaded on first use.
	legacyOnce sync.Once
	legacy     gocni.CNI
	legacyErr  error
	conf       NetworkConfig
	ipamDir    string
}

// newPodNetworks loads the network configurations; with a custom ConfList, every variant is it.
func newPodNetworks(n NetworkConfig, ipamDir string) (*podNetworks, error) {
	nw := &podNetworks{conf: n, ipamDir: ipamDir}
	var err error
	if nw.plain, err = newCNI(n, ipamDir, false, false); err != nil {
		return nil, err
	}
	if len(n.ConfList) > 0 {
		nw.ports = nw.plain
		return nw, nil
	}
	if nw.ports, err = newCNI(n, ipamDir, false, true); err != nil {
		return nil, err
	}
	return nw, nil
}

// variant returns the variant a new sandbox with port mappings pms is attached with.
func variant(pms []PortMapping) string {
	if len(pms) > 0 {
		return networkPorts
	}
	return networkPlain
}

// of returns the configuration of variant v; a custom ConfList serves every variant.
func (nw *podNetworks) of(v string) (gocni.CNI, error) {
	switch {
	case v == networkPlain:
		return nw.plain, nil
	case v == networkPorts:
		return nw.ports, nil
	case v == networkLegacy && len(nw.conf.ConfList) > 0:
		return nw.plain, nil
	case v == networkLegacy:
		nw.legacyOnce.Do(func() { nw.legacy, nw.legacyErr = newCNI(nw.conf, nw.ipamDir, nw.conf.IPMasq, true) })
		return nw.legacy, nw.legacyErr
	}
	return nil, fmt.Errorf("runtime: unknown pod network variant %q in the sandbox record", v)
}

// newCNI loads the network configuration of a variant: bridge + host-local, with per-pod
// masquerading when masqPerPod, followed by portmap when portmap. The configuration list is
// loaded before the loopback network so that the pod's interface is eth0 (RUNTIME.md
// pitfall 1).
func newCNI(n NetworkConfig, ipamDir string, masqPerPod, portmap bool) (gocni.CNI, error) {
	conf, err := n.confList(ipamDir, masqPerPod, portmap)
	if err != nil {
		return nil, err
	}
	c, err := gocni.New(gocni.WithPluginDir(n.PluginDirs), gocni.WithInterfacePrefix("eth"), gocni.WithMinNetworkCount(2))
	if err != nil {
		return nil, fmt.Errorf("runtime: CNI: %w", err)
	}
	if err := c.Load(gocni.WithConfListBytes(conf), gocni.WithLoNetwork); err != nil {
		return nil, fmt.Errorf("runtime: load CNI configuration: %w", err)
	}
	return c, nil
}

// CNI configuration documents, as the bridge, host-local and portmap plugins read them.
type (
	cniConfList struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []any  `json:"plugins"`
	}
	cniBridge struct {
		Type        string  `json:"type"`
		Bridge      string  `json:"bridge"`
		IsGateway   bool    `json:"isGateway"`
		IPMasq      bool    `json:"ipMasq"`
		HairpinMode bool    `json:"hairpinMode"`
		IPAM        cniIPAM `json:"ipam"`
	}
	cniIPAM struct {
		Type    string       `json:"type"`
		Ranges  [][]cniRange `json:"ranges"`
		Routes  []cniRoute   `json:"routes"`
		DataDir string       `json:"dataDir"`
	}
	cniRange struct {
		Subnet  string `json:"subnet"`
		Gateway string `json:"gateway"`
	}
	cniRoute struct {
		Dst string `json:"dst"`
	}
	cniPortMap struct {
		Type         string          `json:"type"`
		Capabilities map[string]bool `json:"capabilities"`
		SNAT         bool            `json:"snat"`
	}
)

// confList returns ConfList or the generated configuration: a bridge with the subnet's first
// address as gateway (masquerading per pod when masqPerPod), host-local IPAM with its state in
// ipamDir, a default route, and portmap when portmap.
func (n NetworkConfig) confList(ipamDir string, masqPerPod, portmap bool) ([]byte, error) {
	if len(n.ConfList) > 0 {
		return n.ConfList, nil
	}
	_, ipn, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("runtime: network subnet %q: %v", n.Subnet, err)
	}
	gw := make(net.IP, len(ipn.IP.To4()))
	copy(gw, ipn.IP.To4())
	gw[3]++
	conf := cniConfList{
		CNIVersion: "1.0.0",
		Name:       n.Name,
		Plugins: []any{
			cniBridge{
				Type: "bridge", Bridge: n.Bridge, IsGateway: true, IPMasq: masqPerPod, HairpinMode: true,
				IPAM: cniIPAM{
					Type:    "host-local",
					Ranges:  [][]cniRange{{{Subnet: ipn.String(), Gateway: gw.String()}}},
					Routes:  []cniRoute{{Dst: "0.0.0.0/0"}},
					DataDir: ipamDir,
				},
			},
		},
	}
	if portmap {
		conf.Plugins = append(conf.Plugins, cniPortMap{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}, SNAT: true})
	}
	return json.Marshal(conf)
}

// cniOpts returns the per-pod CNI arguments, identical for ADD and DEL. IgnoreUnknown keeps the
// plugins from rejecting the K8S_POD_* arguments (RUNTIME.md pitfall 2).
func cniOpts(rec *sandboxRecord) []gocni.NamespaceOpts {
	opts := []gocni.NamespaceOpts{gocni.WithLabels(map[string]string{
		"IgnoreUnknown":              "1",
		"K8S_POD_NAMESPACE":          rec.Namespace,
		"K8S_POD_NAME":               rec.Name,
		"K8S_POD_UID":                rec.UID,
		"K8S_POD_INFRA_CONTAINER_ID": rec.UID,
	})}
	if len(rec.PortMappings) > 0 {
		pm := make([]gocni.PortMapping, 0, len(rec.PortMappings))
		for _, p := range rec.PortMappings {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			pm = append(pm, gocni.PortMapping{
				HostPort: p.HostPort, ContainerPort: p.ContainerPort,
				Protocol: strings.ToLower(string(proto)), HostIP: p.HostIP,
			})
		}
		opts = append(opts, gocni.WithCapabilityPortMap(pm))
	}
	return opts
}

// setupNetwork attaches the namespace to the pod network and returns the pod's addresses.
func (r *Containerd) setupNetwork(ctx context.Context, rec *sandboxRecord) ([]string, error) {
	c, err := r.networks.of(rec.Network)
	if err != nil {
		return nil, err
	}
	res, err := c.Setup(ctx, rec.UID, rec.NetNSPath, cniOpts(rec)...)
	if err != nil {
		return nil, fmt.Errorf("runtime: set up the network of pod %s: %w", rec.UID, err)
	}
	var ips []string
	if iface, ok := res.Interfaces["eth0"]; ok {
		for _, c := range iface.IPConfigs {
			if c.IP.To4() != nil {
				ips = append([]string{c.IP.String()}, ips...)
			} else {
				ips = append(ips, c.IP.String())
			}
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("runtime: the network of pod %s has no address on eth0", rec.UID)
	}
	return ips, nil
}

// teardownNetwork detaches the pod from the network (CNI DEL works also when the namespace is
// already gone) and removes the namespace.
func (r *Containerd) teardownNetwork(ctx context.Context, rec *sandboxRecord) error {
	c, err := r.networks.of(rec.Network)
	if err != nil {
		return err
	}
	if err := c.Remove(ctx, rec.UID, rec.NetNSPath, cniOpts(rec)...); err != nil {
		return fmt.Errorf("runtime: tear down the network of pod %s: %w", rec.UID, err)
	}
	return nil
}

// validatePortMappings checks a sandbox's host ports.
func validatePortMappings(pms []PortMapping) error {
	for _, p := range pms {
		if p.HostPort < 1 || p.HostPort > 65535 || p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return fmt.Errorf("runtime: port mapping %d->%d is out of range", p.HostPort, p.ContainerPort)
		}
		switch p.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			return fmt.Errorf("runtime: port mapping %d->%d: unknown protocol %q", p.HostPort, p.ContainerPort, p.Protocol)
		}
		if p.HostIP != "" && net.ParseIP(p.HostIP) == nil {
			return fmt.Errorf("runtime: port mapping %d->%d: host IP %q does not parse", p.HostPort, p.ContainerPort, p.HostIP)
		}
	}
	return nil
}

// checkHostPorts rejects host ports of a new sandbox for pod uid that another sandbox maps or a
// host process has bound.
func (r *Containerd) checkHostPorts(ctx context.Context, uid string, pms []PortMapping) error {
	if len(pms) == 0 {
		return nil
	}
	sbs, err := r.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	for _, p := range pms {
		for _, sb := range sbs {
			if sb.UID == uid {
				continue
			}
			for _, q := range sb.PortMappings {
				if sameHostPort(p, q) {
					return fmt.Errorf("%w: %s port %d is mapped by pod %s/%s", ErrHostPortInUse, protocol(p), p.HostPort, sb.Namespace, sb.Name)
				}
			}
		}
		if err := probeHostPort(p); err != nil {
			return fmt.Errorf("%w: %s port %d: %v", ErrHostPortInUse, protocol(p), p.HostPort, err)
		}
	}
	return nil
}

// protocol returns a mapping's protocol, TCP by default.
func protocol(p PortMapping) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// sameHostPort reports whether two mappings claim the same host port.
func sameHostPort(a, b PortMapping) bool {
	if a.HostPort != b.HostPort || protocol(a) != protocol(b) {
		return false
	}
	wildcard := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return wildcard(a.HostIP) || wildcard(b.HostIP) || net.ParseIP(a.HostIP).Equal(net.ParseIP(b.HostIP))
}

// probeHostPort checks that no host process has bound a TCP or UDP host port by binding it
// briefly.
func probeHostPort(p PortMapping) error {
	addr := net.JoinHostPort(p.HostIP, fmt.Sprint(p.HostPort))
	switch protocol(p) {
	case corev1.ProtocolTCP:
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		return l.Close()
	case corev1.ProtocolUDP:
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return nil
}
