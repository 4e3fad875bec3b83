package validation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const (
	eventReportingInstanceLimit = 128
	eventActionLimit            = 128
	eventReasonLimit            = 128
	eventNoteLimit              = 1024
)

// Namespace validates a new Namespace: a DNS-1123 label name, no namespace,
// and spec finalizers that are qualified names (or "kubernetes").
func Namespace(ns *corev1.Namespace) field.ErrorList {
	errs := ObjectMeta(&ns.ObjectMeta, false, NameIsDNSLabel, field.NewPath("metadata"))
	for _, f := range ns.Spec.Finalizers {
		// Kubernetes reports these without an index.
		errs = append(errs, finalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return errs
}

// NamespaceUpdate validates an update of a Namespace: metadata only, since the
// spec changes through the finalize subresource.
func NamespaceUpdate(ns, old *corev1.Namespace) field.ErrorList {
	return ObjectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// NamespaceStatusUpdate validates a status write: the phase must be Active
// while the namespace is not being deleted and Terminating afterwards.
func NamespaceStatusUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := ObjectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
	}
	return errs
}

// NamespaceFinalizeUpdate validates a write to the finalize subresource.
func NamespaceFinalizeUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := ObjectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, finalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}

// Node validates a new Node: a DNS subdomain name, no namespace, taints
// (reported under metadata.taints, as Kubernetes does), resource quantities,
// and podCIDRs (valid CIDRs, at most one per family, no duplicates).
func Node(n *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	errs := ObjectMeta(&n.ObjectMeta, false, NameIsDNSSubdomain, metaPath)
	errs = append(errs, nodeAnnotations(n.Annotations, metaPath.Child("annotations"))...)
	errs = append(errs, taints(n.Spec.Taints, metaPath.Child("taints"))...)
	errs = append(errs, nodeResources(n)...)
	if len(n.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		for i, c := range n.Spec.PodCIDRs {
			errs = append(errs, utilvalidation.IsValidCIDR(p.Index(i), c)...)
		}
		if len(n.Spec.PodCIDRs) > 1 {
			if dual, err := netutils.IsDualStackCIDRStrings(n.Spec.PodCIDRs); err != nil || !dual || len(n.Spec.PodCIDRs) > 2 {
				errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
			seen := map[string]bool{}
			for i, c := range n.Spec.PodCIDRs {
				if seen[c] {
					errs = append(errs, field.Duplicate(p.Index(i), c))
				}
				seen[c] = true
			}
		}
	}
	return errs
}

func nodeAnnotations(ann map[string]string, fldPath *field.Path) field.ErrorList {
	const taintsAnnotation = "scheduler.alpha.kubernetes.io/taints"
	if ann[taintsAnnotation] == "" {
		return nil
	}
	var ts []corev1.Taint
	if err := json.Unmarshal([]byte(ann[taintsAnnotation]), &ts); err != nil {
		return field.ErrorList{field.Invalid(fldPath, taintsAnnotation, err.Error())}
	}
	return taints(ts, fldPath.Child(taintsAnnotation))
}

// taints validates node taints: label-name keys, label values, a known
// effect, and unique key/effect pairs.
func taints(ts []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range ts {
		p := fldPath.Index(i)
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := utilvalidation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, taintEffect(t.Effect, false, p.Child("effect"))...)
		if seen[t.Effect][t.Key] {
			e := field.Duplicate(p, t)
			e.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, e)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = map[string]bool{}
		}
		seen[t.Effect][t.Key] = true
	}
	return errs
}

// NodeUpdate validates an update of a Node, also used for its status: no
// duplicate addresses, podCIDRs and providerID that may only go from unset to
// set, valid taints and resources.
func NodeUpdate(n, old *corev1.Node) field.ErrorList {
	metaPath := field.NewPath("metadata")
	errs := ObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, nodeAnnotations(n.Annotations, metaPath.Child("annotations"))...)
	errs = append(errs, nodeResources(n)...)
	addrs := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if addrs[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		addrs[a] = true
	}
	const cidrMsg = "node updates may not change podCIDR except from \"\" to valid"
	if len(old.Spec.PodCIDRs) > 0 {
		if len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), cidrMsg))
		} else {
			for i, c := range old.Spec.PodCIDRs {
				if c != n.Spec.PodCIDRs[i] {
					errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), cidrMsg))
				}
			}
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	errs = append(errs, taints(n.Spec.Taints, metaPath.Child("taints"))...)
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

// Endpoints validates Endpoints, on create and on update: each subset has
// addresses (valid IPs that are not loopback, link-local or unspecified, with
// optional DNS label hostnames) and ports (named when several, 1-65535, known
// protocols).
func Endpoints(e *corev1.Endpoints) field.ErrorList {
	errs := ObjectMeta(&e.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	sp := field.NewPath("subsets")
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		p := sp.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, endpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, endpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, endpointPort(&ss.Ports[j], len(ss.Ports) > 1, p.Child("ports").Index(j))...)
		}
	}
	return errs
}

// EndpointsUpdate validates an update of Endpoints.
func EndpointsUpdate(e, old *corev1.Endpoints) field.ErrorList {
	errs := ObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(errs, Endpoints(e)...)
}

func endpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := utilvalidation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dnsLabel(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, nameErrors(NameIsDNSSubdomain, *a.NodeName, false, p.Child("nodeName"))...)
	}
	return append(errs, nonSpecialIP(a.IP, p.Child("ip"))...)
}

func endpointPort(port *corev1.EndpointPort, requireName bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && port.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if port.Name != "" {
		errs = append(errs, dnsLabel(port.Name, p.Child("name"))...)
	}
	for _, msg := range utilvalidation.IsValidPortNum(int(port.Port)) {
		errs = append(errs, field.Invalid(p.Child("port"), port.Port, msg))
	}
	errs = append(errs, requiredOneOf(port.Protocol, supportedPortProtocols, p.Child("protocol"))...)
	if port.AppProtocol != nil {
		errs = append(errs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// ConfigMap validates a ConfigMap: keys of data and binaryData are valid
// config keys, appear in only one of them, and all values together are at
// most 1 MiB.
func ConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := ObjectMeta(&cm.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	total := 0
	for _, k := range sortedKeys(cm.Data) {
		p := field.NewPath("data").Key(k)
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p, k, msg))
		}
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(p, k, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[k])
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		total += len(cm.BinaryData[k])
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

// ConfigMapUpdate validates an update of a ConfigMap; an immutable one keeps
// its data, binaryData and immutable flag.
func ConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := ObjectMetaUpdate(&cm.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, ConfigMap(cm)...)
}

// Secret validates a Secret: valid config keys, at most 1 MiB of data, and the
// keys each well-known type requires (the service-account name annotation
// for service account tokens, well-formed .dockercfg/.dockerconfigjson,
// username or password for basic-auth, ssh-privatekey, tls.crt and tls.key).
// stringData must already be merged into data (see defaults.Secret).
func Secret(s *corev1.Secret) field.ErrorList {
	errs := ObjectMeta(&s.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	dp := field.NewPath("data")
	total := 0
	for _, k := range sortedKeys(s.Data) {
		for _, msg := range utilvalidation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dp.Key(k), k, msg))
		}
		total += len(s.Data[k])
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dp, "", corev1.MaxSecretSize))
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		errs = append(errs, jsonKey(s.Data, corev1.DockerConfigKey, dp)...)
	case corev1.SecretTypeDockerConfigJson:
		errs = append(errs, jsonKey(s.Data, corev1.DockerConfigJsonKey, dp)...)
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""))
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dp.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dp.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

// jsonKey requires data[key] to exist and hold a JSON object.
func jsonKey(data map[string][]byte, key string, dp *field.Path) field.ErrorList {
	b, ok := data[key]
	if !ok {
		return field.ErrorList{field.Required(dp.Key(key), "")}
	}
	if err := json.Unmarshal(b, &map[string]interface{}{}); err != nil {
		return field.ErrorList{field.Invalid(dp.Key(key), "<secret contents redacted>", err.Error())}
	}
	return nil
}

// SecretUpdate validates an update of a Secret: the type is immutable, and an
// immutable Secret keeps its data and immutable flag.
func SecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := ObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, immutable(s.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(s.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, Secret(s)...)
}

// ServiceAccount validates a ServiceAccount: its metadata, with a DNS
// subdomain name.
func ServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return ObjectMeta(&sa.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
}

// ServiceAccountUpdate validates an update of a ServiceAccount.
func ServiceAccountUpdate(sa, old *corev1.ServiceAccount) field.ErrorList {
	errs := ObjectMetaUpdate(&sa.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ServiceAccount(sa)...)
}

// Event validates a core/v1 Event with Kubernetes' legacy rules, which apply
// to events written through /api/v1: the involved object's namespace must
// match the event's (an event about a cluster-scoped object lives in
// "default", or "" for old clients), the namespace is a DNS subdomain, and an
// event with eventTime also needs reportingController, reportingInstance,
// action and reason within their length limits. Kubernetes does not validate
// the metadata of v1 events beyond that, and neither does this.
func Event(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime.Time.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			errs = append(errs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		if e.ReportingController == "" {
			errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
		}
		errs = append(errs, qualifiedName(e.ReportingController, field.NewPath("reportingController"))...)
		errs = append(errs, requiredLimited("reportingInstance", e.ReportingInstance, eventReportingInstanceLimit)...)
		errs = append(errs, requiredLimited("action", e.Action, eventActionLimit)...)
		errs = append(errs, requiredLimited("reason", e.Reason, eventReasonLimit)...)
		if len(e.Message) > eventNoteLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLimit)))
		}
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(e.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), e.Namespace, msg))
	}
	return errs
}

func requiredLimited(name, value string, limit int) field.ErrorList {
	p := field.NewPath(name)
	var errs field.ErrorList
	if value == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(p, "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

// EventUpdate validates an update of a core/v1 Event with the legacy rules of
// Event.
func EventUpdate(e, _ *corev1.Event) field.ErrorList {
	return Event(e)
}
