package tables

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// serviceConvertor prints services: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S) and, wide, the selector.
var serviceConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
		column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
		column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
		column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
		ageColumn(),
		wideColumn("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
	},
	row: cellsOf(func(svc *corev1.Service, now time.Time) []any {
		// The apiserver defaults type to ClusterIP and fills clusterIPs from clusterIP; accept
		// objects that skipped defaulting.
		typ := svc.Spec.Type
		if typ == "" {
			typ = corev1.ServiceTypeClusterIP
		}
		clusterIP := svc.Spec.ClusterIP
		if len(svc.Spec.ClusterIPs) > 0 {
			clusterIP = svc.Spec.ClusterIPs[0]
		}
		return []any{
			svc.Name,
			string(typ),
			orNone(clusterIP),
			serviceExternalIP(svc, typ),
			orNone(servicePorts(svc.Spec.Ports)),
			since(svc.CreationTimestamp, now),
			labels.FormatLabels(svc.Spec.Selector),
		}
	}),
}

// serviceExternalIP renders the EXTERNAL-IP cell: the external IPs of ClusterIP and NodePort
// services, the load balancer ingress points (or <pending>) plus external IPs of LoadBalancer
// services, and the DNS name of ExternalName services.
func serviceExternalIP(svc *corev1.Service, typ corev1.ServiceType) string {
	switch typ {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		var ingress []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			switch {
			case in.IP != "":
				ingress = append(ingress, in.IP)
			case in.Hostname != "":
				ingress = append(ingress, in.Hostname)
			}
		}
		slices.Sort(ingress)
		all := append(slices.Compact(ingress), svc.Spec.ExternalIPs...)
		if len(all) == 0 {
			return pending
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	default:
		return unknown
	}
}

// servicePorts renders ports as "80/TCP", or "80:30080/TCP" when a node port is allocated.
func servicePorts(ports []corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP // the API default
		}
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.Port, proto)
		}
	}
	return strings.Join(parts, ",")
}

// endpointsConvertor prints endpoints with their first ready addresses.
var endpointsConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn(),
	},
	row: cellsOf(func(ep *corev1.Endpoints, now time.Time) []any {
		return []any{ep.Name, endpointsCell(ep), since(ep.CreationTimestamp, now)}
	}),
}

// endpointsCell lists the first three ready endpoints as "ip:port" (one entry per address and
// port; bare IPs for subsets without ports) and says how many more there are.
func endpointsCell(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	list := shortList{limit: 3}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list.add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list.add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return list.String()
}
