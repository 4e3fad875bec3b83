package endpoints

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// MaxEndpointsCapacity is the most addresses an Endpoints object holds, as in
// Kubernetes; beyond it the object is truncated and annotated
// endpoints.kubernetes.io/over-capacity=truncated.
const MaxEndpointsCapacity = 1000

// Event reasons, as Kubernetes' endpoints controllers record them.
const (
	// ReasonFailedToCreateEndpoint is the event reason for a failed Endpoints creation.
	ReasonFailedToCreateEndpoint = "FailedToCreateEndpoint"
	// ReasonFailedToUpdateEndpoint is the event reason for a failed Endpoints update.
	ReasonFailedToUpdateEndpoint = "FailedToUpdateEndpoint"
	// ReasonFailedToUpdateEndpointSlices is the event reason for a failed
	// EndpointSlice creation, update or deletion.
	ReasonFailedToUpdateEndpointSlices = "FailedToUpdateEndpointSlices"
)

// truncatedValue is the value of the over-capacity annotation.
const truncatedValue = "truncated"

// addressKey identifies one endpoint address within an Endpoints object.
type addressKey struct {
	ip  string
	uid types.UID
}

// addressEntry is one address with its readiness.
type addressEntry struct {
	addr  corev1.EndpointAddress
	ready bool
}

// noPorts is the sentinel port of a headless service without ports.
var noPorts = corev1.EndpointPort{Port: -1}

// desiredSubsets computes the subsets of svc's Endpoints from pods: ready
// addresses (all of them with publishNotReadyAddresses), not-ready ones, and
// per pod the ports each service port resolves to. Terminating pods are left
// out unless publishNotReadyAddresses. The result is in canonical form (see
// repack).
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	byPort := map[corev1.EndpointPort]map[addressKey]addressEntry{}
	add := func(port corev1.EndpointPort, e addressEntry) {
		set := byPort[port]
		if set == nil {
			set = map[addressKey]addressEntry{}
			byPort[port] = set
		}
		set[addressKey{ip: e.addr.IP, uid: e.addr.TargetRef.UID}] = e
	}
	publish := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if !includePod(pod, publish) {
			continue
		}
		ips := podIPsOfFamily(pod, legacyFamilyIsIPv6(svc, pod))
		if len(ips) == 0 {
			continue
		}
		nodeName := pod.Spec.NodeName
		addr := corev1.EndpointAddress{
			IP:        ips[0],
			NodeName:  &nodeName,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		}
		if setHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		e := addressEntry{addr: addr, ready: publish || podstate.IsReady(pod)}
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(noPorts, e) // a headless service may have no ports
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, ok := findPort(pod, sp)
			if !ok {
				continue
			}
			add(corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocolOrTCP(sp.Protocol), AppProtocol: sp.AppProtocol}, e)
		}
	}
	return repack(byPort)
}

// repack builds the subsets the Endpoints API wants from the addresses
// offering each port, as Kubernetes' RepackSubsets does: ports offered by
// exactly the same addresses share a subset. Addresses are sorted by IP and
// UID, ports by name, number and protocol, subsets by their ports.
func repack(byPort map[corev1.EndpointPort]map[addressKey]addressEntry) []corev1.EndpointSubset {
	type group struct {
		addrs map[addressKey]addressEntry
		ports []corev1.EndpointPort
	}
	groups := map[string]*group{}
	for port, addrs := range byPort {
		key := addressSetKey(addrs)
		g := groups[key]
		if g == nil {
			g = &group{addrs: addrs}
			groups[key] = g
		}
		if port != noPorts {
			g.ports = append(g.ports, port)
		}
	}
	subsets := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		var s corev1.EndpointSubset
		for _, k := range sortedAddressKeys(g.addrs) {
			e := g.addrs[k]
			if e.ready {
				s.Addresses = append(s.Addresses, e.addr)
			} else {
				s.NotReadyAddresses = append(s.NotReadyAddresses, e.addr)
			}
		}
		slices.SortFunc(g.ports, compareEndpointPorts)
		s.Ports = g.ports
		subsets = append(subsets, s)
	}
	slices.SortFunc(subsets, func(a, b corev1.EndpointSubset) int {
		return cmp.Compare(subsetSortKey(a), subsetSortKey(b))
	})
	return subsets
}

// addressSetKey returns a string identifying a set of addresses with their
// readiness.
func addressSetKey(addrs map[addressKey]addressEntry) string {
	var b strings.Builder
	for _, k := range sortedAddressKeys(addrs) {
		fmt.Fprintf(&b, "%s/%s/%t;", k.ip, k.uid, addrs[k].ready)
	}
	return b.String()
}

// sortedAddressKeys returns the keys of addrs by IP, then UID.
func sortedAddressKeys(addrs map[addressKey]addressEntry) []addressKey {
	keys := slices.Collect(maps.Keys(addrs))
	slices.SortFunc(keys, func(a, b addressKey) int {
		return cmp.Or(cmp.Compare(a.ip, b.ip), cmp.Compare(a.uid, b.uid))
	})
	return keys
}

// compareEndpointPorts orders ports by name, number and protocol.
func compareEndpointPorts(a, b corev1.EndpointPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

// subsetSortKey orders subsets by their ports, then their first address.
func subsetSortKey(s corev1.EndpointSubset) string {
	var b strings.Builder
	for _, p := range s.Ports {
		b.WriteString(p.Name + "/" + strconv.Itoa(int(p.Port)) + "/" + string(p.Protocol) + ";")
	}
	b.WriteString("|")
	if len(s.Addresses) > 0 {
		b.WriteString(s.Addresses[0].IP)
	} else if len(s.NotReadyAddresses) > 0 {
		b.WriteString(s.NotReadyAddresses[0].IP)
	}
	return b.String()
}

// truncate caps the addresses of subsets at MaxEndpointsCapacity, keeping
// ready addresses first and each subset's share proportional to its size, as
// Kubernetes does. It reports whether anything was cut.
func truncate(subsets []corev1.EndpointSubset) bool {
	ready, notReady := 0, 0
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= MaxEndpointsCapacity {
		return false
	}
	truncateReady := ready > MaxEndpointsCapacity
	budget, total := MaxEndpointsCapacity-ready, notReady
	if truncateReady {
		budget, total = MaxEndpointsCapacity, ready
	}
	left := budget
	for i := range subsets {
		s := &subsets[i]
		n := len(s.NotReadyAddresses)
		if truncateReady {
			n = len(s.Addresses)
		}
		share := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left)
		if truncateReady {
			s.Addresses = s.Addresses[:min(share, len(s.Addresses))]
			s.NotReadyAddresses = nil
			left -= len(s.Addresses)
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:min(share, len(s.NotReadyAddresses))]
			left -= len(s.NotReadyAddresses)
		}
	}
	return true
}

// endpointsLabels returns the labels of svc's Endpoints: the service's, the
// headless-service label when it has no cluster IP, and the managed-by label
// that marks the object as this controller's.
func endpointsLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if isServiceIPSet(svc) {
		delete(out, corev1.IsHeadlessService)
	} else {
		out[corev1.IsHeadlessService] = ""
	}
	out[LabelEndpointsManagedBy] = ControllerName
	return out
}

// syncEndpoints creates or updates svc's Endpoints so that it lists pods. An
// update carries the cached object's resourceVersion; a stale cache fails
// with a conflict and the service is retried.
func (c *Controller) syncEndpoints(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	subsets := desiredSubsets(svc, pods)
	truncated := truncate(subsets)
	labels := endpointsLabels(svc)

	cur, err := c.endpointsLister.Endpoints(svc.Namespace).Get(svc.Name)
	create := apierrors.IsNotFound(err)
	if err != nil && !create {
		return err
	}
	if !create {
		_, annotated := cur.Annotations[corev1.EndpointsOverCapacity]
		if annotated == truncated && maps.Equal(cur.Labels, labels) && apiequality.Semantic.DeepEqual(cur.Subsets, subsets) {
			return nil
		}
	}

	var next *corev1.Endpoints
	if create {
		next = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	} else {
		next = cur.DeepCopy()
	}
	next.Labels = labels
	next.Subsets = subsets
	if truncated {
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[corev1.EndpointsOverCapacity] = truncatedValue
	} else {
		delete(next.Annotations, corev1.EndpointsOverCapacity)
	}

	client := c.client.CoreV1().Endpoints(svc.Namespace)
	if create {
		_, err = client.Create(ctx, next, metav1.CreateOptions{})
	} else {
		_, err = client.Update(ctx, next, metav1.UpdateOptions{})
	}
	switch {
	case err == nil:
		klog.FromContext(ctx).V(4).Info("Wrote endpoints", "service", klog.KObj(svc), "create", create)
		return nil
	case create && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil // the namespace is going away; creations keep failing
	case create:
		c.recorder.Eventf(next, corev1.EventTypeWarning, ReasonFailedToCreateEndpoint, "Failed to create endpoint for service %v/%v: %v", svc.Namespace, svc.Name, err)
	case !apierrors.IsConflict(err):
		c.recorder.Eventf(next, corev1.EventTypeWarning, ReasonFailedToUpdateEndpoint, "Failed to update endpoint %v/%v: %v", svc.Namespace, svc.Name, err)
	}
	return fmt.Errorf("writing endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
}

// deleteEndpoints deletes the Endpoints called name in ns if this controller
// manages it (it carries the managed-by label), with the cached UID as
// precondition. Endpoints written by users are left alone.
func (c *Controller) deleteEndpoints(ctx context.Context, ns, name string) error {
	cur, err := c.endpointsLister.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Labels[LabelEndpointsManagedBy] != ControllerName || cur.DeletionTimestamp != nil {
		return nil
	}
	uid := cur.UID
	err = c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting endpoints %s/%s: %w", ns, name, err)
	}
	return nil
}
