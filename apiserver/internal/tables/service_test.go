package tables

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestServiceColumns(t *testing.T) {
	servicesGR := schema.GroupResource{Resource: "services"}
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		lb   []corev1.LoadBalancerIngress
		want map[string]any
	}{
		{
			name: "cluster IP",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{
					{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
				},
				Selector: map[string]string{"k8s-app": "kube-dns", "app": "dns"},
			},
			want: map[string]any{
				"Name": "web", "Type": "ClusterIP", "Cluster-IP": "10.96.0.10", "External-IP": "<none>",
				"Port(s)": "53/UDP,53/TCP", "Age": "60m", "Selector": "app=dns,k8s-app=kube-dns",
			},
		},
		{
			name: "dual stack shows the primary cluster IP",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.11", ClusterIPs: []string{"10.96.0.11", "fd00::11"},
				Ports: []corev1.ServicePort{http},
			},
			want: map[string]any{"Cluster-IP": "10.96.0.11", "Selector": "<none>"},
		},
		{
			name: "headless",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"}},
			want: map[string]any{"Cluster-IP": "None", "Port(s)": "<none>"},
		},
		{
			name: "not defaulted",
			spec: corev1.ServiceSpec{ClusterIP: "10.96.0.12", Ports: []corev1.ServicePort{{Port: 8080}}},
			want: map[string]any{"Type": "ClusterIP", "Cluster-IP": "10.96.0.12", "External-IP": "<none>", "Port(s)": "8080/TCP"},
		},
		{
			name: "no cluster IP",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
			want: map[string]any{"Cluster-IP": "<none>"},
		},
		{
			name: "cluster IP with external IPs",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.0.13"},
				ExternalIPs: []string{"198.51.100.1", "198.51.100.2"}, Ports: []corev1.ServicePort{http},
			},
			want: map[string]any{"External-IP": "198.51.100.1,198.51.100.2", "Port(s)": "80/TCP"},
		},
		{
			name: "node port",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.96.0.14"},
				Ports: []corev1.ServicePort{
					{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
					{Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP},
				},
			},
			want: map[string]any{"Type": "NodePort", "External-IP": "<none>", "Port(s)": "80:30080/TCP,443:30443/TCP"},
		},
		{
			name: "load balancer pending",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.15"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolTCP}},
			},
			want: map[string]any{"Type": "LoadBalancer", "External-IP": "<pending>", "Port(s)": "80:31000/TCP"},
		},
		{
			name: "load balancer with ingress points, sorted and deduplicated",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.16"}},
			lb: []corev1.LoadBalancerIngress{
				{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.5", Hostname: "ignored"}, {IP: "203.0.113.9"}, {},
			},
			// Not truncated: the apiserver always renders the wide form.
			want: map[string]any{"External-IP": "203.0.113.5,203.0.113.9,lb.example.com"},
		},
		{
			name: "load balancer with ingress and external IPs",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.17"}, ExternalIPs: []string{"198.51.100.7"},
			},
			lb:   []corev1.LoadBalancerIngress{{IP: "203.0.113.5"}},
			want: map[string]any{"External-IP": "203.0.113.5,198.51.100.7"},
		},
		{
			name: "load balancer with only external IPs",
			spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.18"}, ExternalIPs: []string{"198.51.100.7"},
			},
			want: map[string]any{"External-IP": "198.51.100.7"},
		},
		{
			name: "external name",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			want: map[string]any{"Type": "ExternalName", "Cluster-IP": "<none>", "External-IP": "db.example.com", "Port(s)": "<none>"},
		},
		{
			name: "unknown type",
			spec: corev1.ServiceSpec{Type: "Magic"},
			want: map[string]any{"Type": "Magic", "External-IP": "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: objMeta("web"), Spec: tt.spec}
			svc.Status.LoadBalancer.Ingress = tt.lb
			checkCells(t, servicesGR, svc, tt.want)
		})
	}
}

func TestEndpointsColumns(t *testing.T) {
	endpointsGR := schema.GroupResource{Resource: "endpoints"}
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{name: "no subsets", want: "<none>"},
		{
			name:    "one port",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "10.0.0.1:80,10.0.0.2:80",
		},
		{
			name:    "IPv6 addresses are bracketed",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 443}}}},
			want:    "[fd00::1]:443",
		},
		{
			name: "more than three",
			subsets: []corev1.EndpointSubset{{
				Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"),
				Ports:     []corev1.EndpointPort{{Port: 80}, {Port: 443}},
			}},
			want: "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...",
		},
		{
			name:    "headless without ports",
			subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")}},
			want:    "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
		},
		{
			name:    "only not-ready addresses",
			subsets: []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			want:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &corev1.Endpoints{ObjectMeta: objMeta("web"), Subsets: tt.subsets}
			checkCells(t, endpointsGR, ep, map[string]any{"Name": "web", "Endpoints": tt.want, "Age": "60m"})
		})
	}
}

func TestEndpointSliceColumns(t *testing.T) {
	slicesGR := schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}
	tests := []struct {
		name       string
		ports      []discoveryv1.EndpointPort
		endpoints  []discoveryv1.Endpoint
		wantPorts  string
		wantAddrs  string
		wantAdType string
	}{
		{name: "empty", wantPorts: "<unset>", wantAddrs: "<unset>"},
		{
			name:       "ports by number, name and wildcard",
			ports:      []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
			endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}},
			wantPorts:  "80,metrics,*",
			wantAddrs:  "10.0.0.1,10.0.0.2",
			wantAdType: "IPv4",
		},
		{
			name: "more than three",
			ports: []discoveryv1.EndpointPort{
				{Port: ptr(int32(1))}, {Port: ptr(int32(2))}, {Port: ptr(int32(3))}, {Port: ptr(int32(4))}, {Port: ptr(int32(5))},
			},
			endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.0.0.1", "10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}},
			},
			wantPorts:  "1,2,3 + 2 more...",
			wantAddrs:  "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
			wantAdType: "IPv4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := &discoveryv1.EndpointSlice{
				ObjectMeta: objMeta("web-abc12"), AddressType: discoveryv1.AddressType(tt.wantAdType),
				Ports: tt.ports, Endpoints: tt.endpoints,
			}
			checkCells(t, slicesGR, es, map[string]any{
				"Name": "web-abc12", "AddressType": tt.wantAdType, "Ports": tt.wantPorts, "Endpoints": tt.wantAddrs, "Age": "60m",
			})
		})
	}
}
