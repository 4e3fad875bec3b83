package endpoints

import (
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// includePod reports whether pod belongs in a service's endpoints at all, as
// Kubernetes' ShouldPodBeInEndpoints decides: it has an IP, has not finished
// (Succeeded or Failed), and is not terminating unless includeTerminating.
func includePod(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// podIPs returns pod's IPs: status.podIPs, or status.podIP when the list is
// empty.
func podIPs(pod *corev1.Pod) []string {
	if len(pod.Status.PodIPs) == 0 {
		if pod.Status.PodIP == "" {
			return nil
		}
		return []string{pod.Status.PodIP}
	}
	ips := make([]string, len(pod.Status.PodIPs))
	for i, ip := range pod.Status.PodIPs {
		ips[i] = ip.IP
	}
	return ips
}

// isIPv6 reports whether s is an IPv6 address.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.Is4In6()
}

// podIPsOfFamily returns pod's IPs of the given family, in status order.
func podIPsOfFamily(pod *corev1.Pod, v6 bool) []string {
	var out []string
	for _, ip := range podIPs(pod) {
		if isIPv6(ip) == v6 {
			out = append(out, ip)
		}
	}
	return out
}

// legacyFamilyIsIPv6 returns the IP family the Endpoints object of svc uses
// for pod: the service's first IP family, else the family of its cluster IP,
// else (a headless service without families) the family of the pod's IP.
func legacyFamilyIsIPv6(svc *corev1.Service, pod *corev1.Pod) bool {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	}
	if isServiceIPSet(svc) {
		return isIPv6(svc.Spec.ClusterIP)
	}
	ips := podIPs(pod)
	return len(ips) > 0 && isIPv6(ips[0])
}

// addressTypes returns the EndpointSlice address types of svc, primary
// first: one per IP family, else the family of the cluster IP, else (a
// headless service without families) both.
func addressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out = append(out, discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out = append(out, discoveryv1.AddressTypeIPv6)
		}
	}
	switch {
	case len(out) > 0:
		return out
	case isServiceIPSet(svc) && isIPv6(svc.Spec.ClusterIP):
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
	case isServiceIPSet(svc):
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
	default:
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
	}
}

// isServiceIPSet reports whether svc has a cluster IP (it is not headless).
func isServiceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}

// setHostname reports whether pod's endpoints carry its hostname: the pod
// names a hostname and the service as its subdomain.
func setHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// findPort resolves the container port sp targets on pod: a number is used
// as is (zero means the service port itself), a name is looked up among the
// ports of the pod's containers and sidecar init containers with the same
// protocol.
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	switch sp.TargetPort.Type {
	case intstr.Int:
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, true
		}
		return sp.TargetPort.IntVal, true
	case intstr.String:
		name := sp.TargetPort.StrVal
		proto := protocolOrTCP(sp.Protocol)
		for _, c := range pod.Spec.Containers {
			if p, ok := namedPort(c.Ports, name, proto); ok {
				return p, true
			}
		}
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				continue // only sidecars keep serving
			}
			if p, ok := namedPort(c.Ports, name, proto); ok {
				return p, true
			}
		}
	}
	return 0, false
}

// namedPort returns the container port called name with protocol proto.
func namedPort(ports []corev1.ContainerPort, name string, proto corev1.Protocol) (int32, bool) {
	for _, p := range ports {
		if p.Name == name && protocolOrTCP(p.Protocol) == proto {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// protocolOrTCP returns p, or TCP when p is unset (the API's default).
func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// podEndpointsChanged reports whether a pod update can change any endpoint
// built from it (its labels aside, which callers compare themselves).
func podEndpointsChanged(old, cur *corev1.Pod) bool {
	if (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		old.Status.Phase != cur.Status.Phase ||
		old.Status.PodIP != cur.Status.PodIP ||
		!reflect.DeepEqual(old.Status.PodIPs, cur.Status.PodIPs) ||
		podstate.IsReady(old) != podstate.IsReady(cur) ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		old.Spec.Hostname != cur.Spec.Hostname ||
		old.Spec.Subdomain != cur.Spec.Subdomain ||
		old.UID != cur.UID {
		return true
	}
	return false
}
