package tables

import (
	"strconv"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// endpointSliceConvertor prints endpointslices: address type, ports and addresses.
var endpointSliceConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("AddressType", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]),
		column("Ports", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]),
		column("Endpoints", "string", discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
		ageColumn(),
	},
	row: cellsOf(func(es *discoveryv1.EndpointSlice, now time.Time) []any {
		return []any{
			es.Name,
			string(es.AddressType),
			endpointSlicePorts(es.Ports),
			endpointSliceAddresses(es.Endpoints),
			since(es.CreationTimestamp, now),
		}
	}),
}

// endpointSlicePorts lists the first three port numbers (the name of a port without a number,
// "*" for a port with neither), or "<unset>".
func endpointSlicePorts(ports []discoveryv1.EndpointPort) string {
	list := shortList{limit: 3}
	for _, p := range ports {
		switch {
		case p.Port != nil:
			list.add(strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list.add(*p.Name)
		default:
			list.add("*")
		}
	}
	return orUnset(list.String())
}

// endpointSliceAddresses lists the first three endpoint addresses, or "<unset>".
func endpointSliceAddresses(endpoints []discoveryv1.Endpoint) string {
	list := shortList{limit: 3}
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			list.add(a)
		}
	}
	return orUnset(list.String())
}

// orUnset returns s, or "<unset>" when s is empty.
func orUnset(s string) string {
	if s == "" {
		return unset
	}
	return s
}
