package endpoints

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// serviceKind is the kind EndpointSlices' owner references name.
var serviceKind = corev1.SchemeGroupVersion.WithKind("Service")

// podEndpoint builds the endpoint of pod for svc with the given addresses:
// ready is true for a serving pod that is not terminating (or always with
// publishNotReadyAddresses), serving follows the pod's readiness and
// terminating its deletionTimestamp, as in Kubernetes.
func podEndpoint(pod *corev1.Pod, svc *corev1.Service, addrs []string) discoveryv1.Endpoint {
	serving := podstate.IsReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  addrs,
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		nodeName := pod.Spec.NodeName
		ep.NodeName = &nodeName
	}
	if setHostname(pod, svc) {
		hostname := pod.Spec.Hostname
		ep.Hostname = &hostname
	}
	return ep
}

// slicePorts returns the ports of pod's endpoints for svc: every service port
// that resolves on the pod, in service order.
func slicePorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, ok := findPort(pod, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, protocolOrTCP(sp.Protocol)
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

// portsKey identifies a list of slice ports.
func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		if p.Name != nil {
			b.WriteString(*p.Name)
		}
		b.WriteString("/")
		if p.Port != nil {
			b.WriteString(strconv.Itoa(int(*p.Port)))
		}
		b.WriteString("/")
		if p.Protocol != nil {
			b.WriteString(string(*p.Protocol))
		}
		b.WriteString("/")
		if p.AppProtocol != nil {
			b.WriteString(*p.AppProtocol)
		}
		b.WriteString(";")
	}
	return b.String()
}

// endpointKey identifies an endpoint across slices: its pod, else its
// addresses.
func endpointKey(ep *discoveryv1.Endpoint) string {
	if ep.TargetRef != nil && ep.TargetRef.UID != "" {
		return "uid:" + string(ep.TargetRef.UID)
	}
	return "ip:" + strings.Join(ep.Addresses, ",")
}

// compareEndpoints orders endpoints by first address, then pod name.
func compareEndpoints(a, b discoveryv1.Endpoint) int {
	var aa, ba, an, bn string
	if len(a.Addresses) > 0 {
		aa = a.Addresses[0]
	}
	if len(b.Addresses) > 0 {
		ba = b.Addresses[0]
	}
	if a.TargetRef != nil {
		an = a.TargetRef.Name
	}
	if b.TargetRef != nil {
		bn = b.TargetRef.Name
	}
	return cmp.Or(cmp.Compare(aa, ba), cmp.Compare(an, bn))
}

// endpointGroup is the desired content of the slices of one address type
// that share one list of ports.
type endpointGroup struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   map[string]discoveryv1.Endpoint
	// placeholder marks the empty group that keeps one slice for a service
	// without endpoints.
	placeholder bool
}

// groupKey identifies an endpoint group.
func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	return string(at) + "|" + portsKey(ports)
}

// desiredGroups computes the endpoints of svc's slices from pods, grouped by
// address type and ports. Terminating pods are included, with their
// conditions. A service without any endpoint gets one empty placeholder
// group of its primary address type, as Kubernetes keeps one placeholder
// slice.
func desiredGroups(svc *corev1.Service, pods []*corev1.Pod) map[string]*endpointGroup {
	groups := map[string]*endpointGroup{}
	total := 0
	types := addressTypes(svc)
	for _, pod := range pods {
		if !includePod(pod, true) {
			continue
		}
		ports := slicePorts(svc, pod)
		for _, at := range types {
			addrs := podIPsOfFamily(pod, at == discoveryv1.AddressTypeIPv6)
			if len(addrs) == 0 {
				continue
			}
			key := groupKey(at, ports)
			g := groups[key]
			if g == nil {
				g = &endpointGroup{addressType: at, ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				groups[key] = g
			}
			ep := podEndpoint(pod, svc, addrs)
			g.endpoints[endpointKey(&ep)] = ep
			total++
		}
	}
	if total == 0 {
		at := types[0]
		groups[groupKey(at, nil)] = &endpointGroup{addressType: at, endpoints: map[string]discoveryv1.Endpoint{}, placeholder: true}
	}
	return groups
}

// sliceLabels returns the labels of svc's slices: the service's labels
// except the reserved ones, the headless-service label when it has no
// cluster IP, the service name and the managed-by label.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService {
			continue
		}
		out[k] = v
	}
	if !isServiceIPSet(svc) {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ControllerName
	return out
}

// slicePrefix returns the generateName of svc's slices: "<service>-" when it
// is a valid prefix, the service name otherwise.
func slicePrefix(name string) string {
	prefix := name + "-"
	if len(validation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return name
	}
	return prefix
}

// slicePlan is the writes that bring a service's slices to the desired
// state.
type slicePlan struct {
	create []*discoveryv1.EndpointSlice
	update []*discoveryv1.EndpointSlice
	delete []*discoveryv1.EndpointSlice
}

// planSlices compares the existing managed slices of svc with groups and
// returns the writes to make. Endpoints stay in the slice that holds them;
// new endpoints fill existing slices of their group up to maxPerSlice before
// new slices are made, and a slice that is no longer needed is reused for a
// new one of the same address type rather than deleted and recreated.
// existing is not modified.
func planSlices(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, groups map[string]*endpointGroup, maxPerSlice int) slicePlan {
	var plan slicePlan
	wantLabels := sliceLabels(svc)
	ownerRef := metav1.NewControllerRef(svc, serviceKind)

	// Sort existing slices by group, fullest first, so that fills go to
	// slices that are nearly full and partially used slices empty out.
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	var spare []*discoveryv1.EndpointSlice
	for _, s := range existing {
		if !ownedBy(s, svc) {
			plan.delete = append(plan.delete, s) // left over from a deleted service of that name
			continue
		}
		key := groupKey(s.AddressType, s.Ports)
		if _, ok := groups[key]; ok {
			byGroup[key] = append(byGroup[key], s)
		} else {
			spare = append(spare, s)
		}
	}
	slices.SortFunc(spare, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })

	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		cur := byGroup[key]
		slices.SortFunc(cur, func(a, b *discoveryv1.EndpointSlice) int {
			return cmp.Or(cmp.Compare(len(b.Endpoints), len(a.Endpoints)), cmp.Compare(a.Name, b.Name))
		})
		// Keep every desired endpoint where it is, refreshed.
		placed := map[string]bool{}
		contents := make([][]discoveryv1.Endpoint, len(cur))
		for i, s := range cur {
			for j := range s.Endpoints {
				k := endpointKey(&s.Endpoints[j])
				if d, ok := g.endpoints[k]; ok && !placed[k] && len(contents[i]) < maxPerSlice {
					contents[i] = append(contents[i], d)
					placed[k] = true
				}
			}
		}
		var pending []discoveryv1.Endpoint
		for _, k := range slices.Sorted(maps.Keys(g.endpoints)) {
			if !placed[k] {
				pending = append(pending, g.endpoints[k])
			}
		}
		slices.SortFunc(pending, compareEndpoints)
		// Fill slices that have room.
		for i := range cur {
			room := maxPerSlice - len(contents[i])
			if room <= 0 || len(pending) == 0 {
				continue
			}
			n := min(room, len(pending))
			contents[i] = append(contents[i], pending[:n]...)
			pending = pending[n:]
		}
		for i, s := range cur {
			if len(contents[i]) == 0 && !(g.placeholder && i == 0) {
				spare = append(spare, s) // reused by a later group, or deleted
				continue
			}
			if next := refreshSlice(s, g, contents[i], wantLabels, ownerRef); next != nil {
				plan.update = append(plan.update, next)
			}
		}
		// New slices for the rest, or the placeholder if none exists.
		for len(pending) > 0 || (g.placeholder && len(cur) == 0) {
			n := min(maxPerSlice, len(pending))
			chunk := pending[:n]
			pending = pending[n:]
			if i := slices.IndexFunc(spare, func(s *discoveryv1.EndpointSlice) bool { return s.AddressType == g.addressType }); i >= 0 {
				s := spare[i]
				spare = slices.Delete(spare, i, i+1)
				if next := refreshSlice(s, g, chunk, wantLabels, ownerRef); next != nil {
					plan.update = append(plan.update, next)
				}
			} else {
				plan.create = append(plan.create, newSlice(svc, g, chunk, wantLabels, ownerRef))
			}
			if g.placeholder {
				break
			}
		}
	}
	plan.delete = append(plan.delete, spare...)
	return plan
}

// newSlice returns a slice of svc holding eps of group g.
func newSlice(svc *corev1.Service, g *endpointGroup, eps []discoveryv1.Endpoint, labels map[string]string, ownerRef *metav1.OwnerReference) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    slicePrefix(svc.Name),
			Namespace:       svc.Namespace,
			Labels:          maps.Clone(labels),
			OwnerReferences: []metav1.OwnerReference{*ownerRef},
		},
		AddressType: g.addressType,
		Ports:       slices.Clone(g.ports),
		Endpoints:   slices.Clone(eps),
	}
	slices.SortFunc(s.Endpoints, compareEndpoints)
	if s.Endpoints == nil {
		s.Endpoints = []discoveryv1.Endpoint{}
	}
	return s
}

// refreshSlice returns a copy of s holding eps with g's ports, the given
// labels and an owner reference to the service, or nil when s already has
// exactly that content.
func refreshSlice(s *discoveryv1.EndpointSlice, g *endpointGroup, eps []discoveryv1.Endpoint, labels map[string]string, ownerRef *metav1.OwnerReference) *discoveryv1.EndpointSlice {
	want := slices.Clone(eps)
	slices.SortFunc(want, compareEndpoints)
	have := slices.Clone(s.Endpoints)
	slices.SortFunc(have, compareEndpoints)
	hasOwner := slices.ContainsFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == ownerRef.UID })
	if hasOwner && maps.Equal(s.Labels, labels) && apiequality.Semantic.DeepEqual(s.Ports, g.ports) && apiequality.Semantic.DeepEqual(have, want) {
		return nil
	}
	next := s.DeepCopy()
	next.Labels = maps.Clone(labels)
	next.Ports = slices.Clone(g.ports)
	next.Endpoints = want
	if next.Endpoints == nil {
		next.Endpoints = []discoveryv1.Endpoint{}
	}
	if !hasOwner {
		next.OwnerReferences = append(next.OwnerReferences, *ownerRef)
	}
	return next
}

// ownedBy reports whether slice s belongs to svc, through its owner
// reference.
func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	return slices.ContainsFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool {
		return r.UID == svc.UID && r.Kind == serviceKind.Kind && r.APIVersion == serviceKind.GroupVersion().String()
	})
}

// managedSlices returns the live (not terminating) slices this controller
// manages for the service called name in ns, from the cache.
func (c *Controller) managedSlices(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: ControllerName})
	all, err := c.sliceLister.EndpointSlices(ns).List(sel)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(s *discoveryv1.EndpointSlice) bool { return s.DeletionTimestamp != nil }), nil
}

// syncSlices brings svc's EndpointSlices in line with pods: creations
// first, then updates (carrying the cached resourceVersion), then deletions
// (carrying the cached UID), so that no endpoint is ever missing from every
// slice. Created and deleted slices are recorded so that the next sync waits
// until the informer has observed them.
func (c *Controller) syncSlices(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	existing, err := c.managedSlices(svc.Namespace, svc.Name)
	if err != nil {
		return err
	}
	plan := planSlices(svc, existing, desiredGroups(svc, pods), c.maxPerSlice)
	err = c.applySlicePlan(ctx, svc.Namespace, svc.Name, plan)
	if err != nil && !apierrors.IsConflict(err) && !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonFailedToUpdateEndpointSlices, "Error updating Endpoint Slices for Service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return err
}

// deleteSlices deletes every slice this controller manages for the service
// called name in ns.
func (c *Controller) deleteSlices(ctx context.Context, ns, name string) error {
	existing, err := c.managedSlices(ns, name)
	if err != nil {
		return err
	}
	return c.applySlicePlan(ctx, ns, name, slicePlan{delete: existing})
}

// applySlicePlan writes plan for the service called name in ns and records
// the creations and deletions it made.
func (c *Controller) applySlicePlan(ctx context.Context, ns, name string, plan slicePlan) error {
	if len(plan.create)+len(plan.update)+len(plan.delete) == 0 {
		return nil
	}
	key := ns + "/" + name
	client := c.client.DiscoveryV1().EndpointSlices(ns)
	var created, deleted []sliceRef
	defer func() { c.expectations.expect(key, created, deleted) }()

	for _, s := range plan.create {
		out, err := client.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace is going away; creations keep failing
			}
			return fmt.Errorf("creating endpoint slice for service %s: %w", key, err)
		}
		created = append(created, sliceRef{name: out.Name, uid: out.UID})
	}
	var errs []error
	for _, s := range plan.update {
		if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("updating endpoint slice %s/%s: %w", ns, s.Name, err))
		}
	}
	for _, s := range plan.delete {
		uid := s.UID
		err := client.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		switch {
		case err == nil:
			deleted = append(deleted, sliceRef{name: s.Name, uid: s.UID})
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("deleting endpoint slice %s/%s: %w", ns, s.Name, err))
		}
	}
	klog.FromContext(ctx).V(4).Info("Wrote endpoint slices", "service", key, "created", len(plan.create), "updated", len(plan.update), "deleted", len(plan.delete))
	return errors.Join(errs...)
}
