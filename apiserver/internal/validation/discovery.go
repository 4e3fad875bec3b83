package validation

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxSliceTopologyLabels = 16
	maxSliceAddresses      = 100
	maxSlicePorts          = 100
	maxSliceEndpoints      = 1000
)

var supportedAddressTypes = []string{string(discoveryv1.AddressTypeFQDN), string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6)}

// EndpointSlice validates a new EndpointSlice: a DNS subdomain name, an
// addressType of IPv4, IPv6 or FQDN, at most 1000 endpoints each with 1 to
// 100 addresses valid for the type (IPs that are not loopback, link-local or
// unspecified), at most 16 topology labels, a DNS label hostname and a valid
// nodeName, and at most 100 ports with unique DNS label names, known
// protocols and qualified appProtocols.
func EndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := ObjectMeta(&es.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	ap := field.NewPath("addressType")
	if es.AddressType == "" {
		errs = append(errs, field.Required(ap, ""))
	} else {
		known := false
		for _, t := range supportedAddressTypes {
			known = known || t == string(es.AddressType)
		}
		if !known {
			errs = append(errs, field.NotSupported(ap, es.AddressType, supportedAddressTypes))
		}
	}
	errs = append(errs, sliceEndpoints(es.Endpoints, es.AddressType, field.NewPath("endpoints"))...)
	return append(errs, slicePorts(es.Ports, field.NewPath("ports"))...)
}

// EndpointSliceUpdate validates an update of an EndpointSlice, whose
// addressType is immutable.
func EndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := ObjectMetaUpdate(&es.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, EndpointSlice(es)...)
	return append(errs, immutable(es.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func sliceEndpoints(eps []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(eps) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(eps), maxSliceEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range eps {
		p := fldPath.Index(i)
		ap := p.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxSliceAddresses {
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), maxSliceAddresses))
		}
		for j, a := range ep.Addresses {
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				errs = append(errs, utilvalidation.IsValidIPv4Address(ap.Index(j), a)...)
				errs = append(errs, nonSpecialIP(a, ap.Index(j))...)
			case discoveryv1.AddressTypeIPv6:
				errs = append(errs, utilvalidation.IsValidIPv6Address(ap.Index(j), a)...)
				errs = append(errs, nonSpecialIP(a, ap.Index(j))...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, utilvalidation.IsFullyQualifiedDomainName(ap.Index(j), a)...)
			}
		}
		tp := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxSliceTopologyLabels {
			errs = append(errs, field.TooMany(tp, len(ep.DeprecatedTopology), maxSliceTopologyLabels))
		}
		errs = append(errs, metavalidation.ValidateLabels(ep.DeprecatedTopology, tp)...)
		if ep.Hostname != nil {
			errs = append(errs, dnsLabel(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, nameErrors(NameIsDNSSubdomain, *ep.NodeName, false, p.Child("nodeName"))...)
		}
	}
	return errs
}

func slicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxSlicePorts)}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		p := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dnsLabel(name, p.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else if *port.Protocol != corev1.ProtocolTCP && *port.Protocol != corev1.ProtocolUDP && *port.Protocol != corev1.ProtocolSCTP {
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, supportedPortProtocols))
		}
		if port.AppProtocol != nil {
			for _, msg := range utilvalidation.IsQualifiedName(*port.AppProtocol) {
				errs = append(errs, field.Invalid(p.Child("appProtocol"), port.AppProtocol, msg))
			}
		}
	}
	return errs
}
