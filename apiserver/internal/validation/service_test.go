package validation

import (
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func validService() *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	defaults.Apply(s)
	return s
}

func TestService(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []want
	}{
		{name: "valid", mutate: func(s *corev1.Service) {}},
		{name: "valid with allocated IP", mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" }},
		{name: "headless without ports", mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Ports = nil }},
		{name: "external name without ports", mutate: func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."}
		}},
		{name: "ports missing", mutate: func(s *corev1.Service) { s.Spec.Ports = nil }, want: []want{required("spec.ports")}},
		{name: "name is not a DNS-1035 label", mutate: func(s *corev1.Service) { s.Name = "1web" }, want: []want{invalid("metadata.name")}},
		{name: "second port without name", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 443})
		}, want: []want{required("spec.ports[1].name")}},
		{name: "duplicate port names", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 443})
		}, want: []want{duplicate("spec.ports[1].name")}},
		{name: "duplicate port numbers", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "alt", Port: 80})
		}, want: []want{duplicate("spec.ports[1]")}},
		{name: "same port on two protocols", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 80, Protocol: corev1.ProtocolUDP})
		}},
		{name: "port out of range", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, want: []want{invalid("spec.ports[0].port")}},
		{name: "unknown protocol", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }, want: []want{notSupported("spec.ports[0].protocol")}},
		{name: "target port out of range", mutate: func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }, want: []want{invalid("spec.ports[0].targetPort")}},
		{name: "unknown type", mutate: func(s *corev1.Service) { s.Spec.Type = "Internal" }, want: []want{notSupported("spec.type")}},
		{name: "node port on ClusterIP", mutate: func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, want: []want{forbidden("spec.ports[0].nodePort")}},
		{name: "node port in range", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
		}},
		{name: "node port out of range", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 8080
		}, want: []want{invalidMsg("spec.ports[0].nodePort", "provided port is not in the valid range. The range of valid ports is 30000-32767")}},
		{name: "duplicate node ports", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, NodePort: 30080})
		}, want: []want{duplicate("spec.ports[1].nodePort")}},
		{name: "invalid cluster IP", mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.256" }, want: []want{invalid("spec.clusterIPs[0]")}},
		{name: "clusterIPs disagree with clusterIP", mutate: func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.10"
			s.Spec.ClusterIPs = []string{"10.96.0.11"}
		}, want: []want{invalidMsg("spec.clusterIPs", "first value must match `clusterIP`")}},
		{name: "two IPv4 cluster IPs", mutate: func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.10"
			s.Spec.ClusterIPs = []string{"10.96.0.10", "10.96.0.11"}
		}, want: []want{invalidMsg("spec.clusterIPs", "may specify no more than one IP for each IP family")}},
		{name: "cluster IP of the wrong family", mutate: func(s *corev1.Service) {
			s.Spec.ClusterIP = "fd00::10"
			s.Spec.ClusterIPs = nil
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}, want: []want{invalidMsg("spec.clusterIPs[0]", "expected an IPv4 value")}},
		{name: "headless NodePort", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ClusterIP = "None"
		}, want: []want{invalidMsg("spec.clusterIPs[0]", "may not be set to 'None' for NodePort services")}},
		{name: "external name missing", mutate: func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}
		}, want: []want{required("spec.externalName")}},
		{name: "external name with ip family policy", mutate: func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", IPFamilyPolicy: ptr(corev1.IPFamilyPolicySingleStack)}
		}, want: []want{forbidden("spec.ipFamilyPolicy")}},
		{name: "unknown session affinity", mutate: func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, want: []want{notSupported("spec.sessionAffinity")}},
		{name: "client IP affinity timeout too long", mutate: func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(100000))}}
		}, want: []want{invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds")}},
		{name: "invalid selector", mutate: func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "no spaces"} }, want: []want{invalid("spec.selector")}},
		{name: "loopback external IP", mutate: func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"127.0.0.1"}
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, want: []want{invalidMsg("spec.externalIPs[0]", "loopback")}},
		{name: "external traffic policy on ClusterIP", mutate: func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, want: []want{invalid("spec.externalTrafficPolicy")}},
		{name: "unknown internal traffic policy", mutate: func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicy("Nearby"))
		}, want: []want{notSupported("spec.internalTrafficPolicy")}},
		{name: "load balancer with local policy needs health check port", mutate: func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, want: []want{required("spec.healthCheckNodePort")}},
		{name: "source ranges on ClusterIP", mutate: func(s *corev1.Service) {
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}, want: []want{forbidden("spec.LoadBalancerSourceRanges")}},
		{name: "unknown traffic distribution", mutate: func(s *corev1.Service) { s.Spec.TrafficDistribution = ptr("Anywhere") }, want: []want{notSupported("spec.trafficDistribution")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validService()
			tt.mutate(s)
			defaults.Apply(s)
			checkErrors(t, "Service()", Service(s), tt.want...)
		})
	}
}

func TestServiceUpdate(t *testing.T) {
	allocated := func(s *corev1.Service) {
		s.ResourceVersion = "3"
		s.Spec.ClusterIP = "10.96.0.10"
		s.Spec.ClusterIPs = []string{"10.96.0.10"}
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	tests := []struct {
		name   string
		old    func(s *corev1.Service)
		mutate func(s *corev1.Service)
		want   []want
	}{
		{name: "selector change", old: allocated, mutate: func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "web2"} }},
		{name: "cluster IP changed", old: allocated, mutate: func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.11"
			s.Spec.ClusterIPs = []string{"10.96.0.11"}
		}, want: []want{invalidMsg("spec.clusterIPs[0]", "may not change once set")}},
		{name: "cluster IP cleared", old: allocated, mutate: func(s *corev1.Service) {
			s.Spec.ClusterIP = ""
			s.Spec.ClusterIPs = nil
		}, want: []want{invalidMsg("spec.clusterIPs[0]", "primary clusterIP can not be unset")}},
		{name: "type changed to ExternalName", old: allocated, mutate: func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone}
		}},
		{name: "ip family changed", old: allocated, mutate: func(s *corev1.Service) {
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		}, want: []want{invalidMsg("spec.ipFamilies[0]", "may not change once set"), invalidMsg("spec.clusterIPs[0]", "expected an IPv6 value")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validService()
			tt.old(old)
			s := old.DeepCopy()
			tt.mutate(s)
			checkErrors(t, "ServiceUpdate()", ServiceUpdate(s, old), tt.want...)
		})
	}
}

func TestServiceStatusUpdate(t *testing.T) {
	lb := func(s *corev1.Service) {
		s.ResourceVersion = "3"
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		defaults.Apply(s)
	}
	tests := []struct {
		name   string
		old    func(s *corev1.Service)
		status corev1.LoadBalancerStatus
		want   []want
	}{
		{name: "ingress IP", old: lb, status: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}}},
		{name: "ingress without ipMode", old: lb, status: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}},
			want: []want{required("status.loadBalancer.ingress[0].ipMode")}},
		{name: "ingress hostname is an IP", old: lb, status: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{Hostname: "203.0.113.7"}}},
			want: []want{invalidMsg("status.loadBalancer.ingress[0].hostname", "must be a DNS name, not an IP address")}},
		{name: "ingress on ClusterIP", old: func(s *corev1.Service) { s.ResourceVersion = "3" }, status: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}},
			want: []want{forbidden("status.loadBalancer.ingress")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validService()
			tt.old(old)
			s := old.DeepCopy()
			s.Status.LoadBalancer = tt.status
			checkErrors(t, "ServiceStatusUpdate()", ServiceStatusUpdate(s, old), tt.want...)
		})
	}
}
