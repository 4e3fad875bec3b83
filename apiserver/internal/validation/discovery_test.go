package validation

import (
	"fmt"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validEndpointSlice() *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "default"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"10.244.1.5"},
			NodeName:  ptr("node-1"),
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}},
	}
	defaults.Apply(es)
	return es
}

func TestEndpointSlice(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(es *discoveryv1.EndpointSlice)
		want   []want
	}{
		{name: "valid", mutate: func(es *discoveryv1.EndpointSlice) {}},
		{name: "unnamed port", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports[0].Name = nil; defaults.Apply(es) }},
		{name: "address type missing", mutate: func(es *discoveryv1.EndpointSlice) { es.AddressType = "" }, want: []want{required("addressType")}},
		{name: "unknown address type", mutate: func(es *discoveryv1.EndpointSlice) { es.AddressType = "MAC" }, want: []want{notSupported("addressType")}},
		{name: "IPv6 address in IPv4 slice", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses = []string{"fd00::5"} },
			want: []want{invalid("endpoints[0].addresses[0]")}},
		{name: "loopback address", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses = []string{"127.0.0.1"} },
			want: []want{invalidMsg("endpoints[0].addresses[0]", "loopback")}},
		{name: "endpoint without addresses", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses = nil },
			want: []want{required("endpoints[0].addresses")}},
		{name: "duplicate port names", mutate: func(es *discoveryv1.EndpointSlice) {
			es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr("http"), Port: ptr(int32(81)), Protocol: ptr(corev1.ProtocolTCP)})
		}, want: []want{duplicate("ports[1].name")}},
		{name: "unknown protocol", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports[0].Protocol = ptr(corev1.Protocol("QUIC")) },
			want: []want{notSupported("ports[0].protocol")}},
		{name: "too many ports", mutate: func(es *discoveryv1.EndpointSlice) {
			for i := int32(0); i < 101; i++ {
				es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr(fmt.Sprintf("p%d", i)), Port: ptr(1000 + i), Protocol: ptr(corev1.ProtocolTCP)})
			}
		}, want: []want{tooMany("ports")}},
		{name: "invalid hostname", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Hostname = ptr("Web_1") },
			want: []want{invalid("endpoints[0].hostname")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := validEndpointSlice()
			tt.mutate(es)
			checkErrors(t, "EndpointSlice()", EndpointSlice(es), tt.want...)
		})
	}
	t.Run("address type immutable", func(t *testing.T) {
		old := validEndpointSlice()
		old.ResourceVersion = "1"
		es := old.DeepCopy()
		es.AddressType = discoveryv1.AddressTypeFQDN
		es.Endpoints[0].Addresses = []string{"web.example.com"}
		checkErrors(t, "EndpointSliceUpdate()", EndpointSliceUpdate(es, old), invalidMsg("addressType", "field is immutable"))
	})
}
