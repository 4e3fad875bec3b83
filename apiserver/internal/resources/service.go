package resources

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/capstan-io/capstan/apiserver/registry"
	"github.com/capstan-io/capstan/raftstore"
)

// Reservation keys: a service's cluster IP and node ports are reserved in the same transaction
// that writes the service, so two services can never get the same one.
const (
	clusterIPPrefix = "/registry/ranges/serviceips/"
	nodePortPrefix  = "/registry/ranges/servicenodeports/"
)

// probesPerAttempt bounds the free-slot search of one allocation attempt.
const probesPerAttempt = 256

func serviceStrategy(a *serviceAllocator) registry.Strategy {
	st := standard(registry.Strategy{Status: true, Hooks: a})
	return st
}

// serviceAllocator hands out cluster IPs and node ports.
type serviceAllocator struct {
	cfg Config
}

var _ registry.Hooks = (*serviceAllocator)(nil)

// reservations lists the keys a service holds.
func reservations(svc *corev1.Service) []string {
	var keys []string
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			keys = append(keys, clusterIPPrefix+ip)
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			keys = append(keys, nodePortPrefix+strconv.Itoa(int(p.NodePort))+"-"+string(protocolOf(p)))
		}
	}
	return keys
}

func protocolOf(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func wantsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func wantsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// OnCreate allocates the service's cluster IP and node ports and reserves them.
func (a *serviceAllocator) OnCreate(ctx context.Context, r registry.Reader, obj runtime.Object) ([]raftstore.Compare, []raftstore.Op, error) {
	svc := obj.(*corev1.Service)
	if err := a.allocate(ctx, r, svc, nil); err != nil {
		return nil, nil, err
	}
	return reserve(svc, reservations(svc))
}

// OnUpdate allocates what a change of type or ports needs and releases what it no longer does.
func (a *serviceAllocator) OnUpdate(ctx context.Context, r registry.Reader, obj, old runtime.Object) ([]raftstore.Compare, []raftstore.Op, error) {
	svc, prev := obj.(*corev1.Service), old.(*corev1.Service)
	if err := a.allocate(ctx, r, svc, prev); err != nil {
		return nil, nil, err
	}
	held := map[string]bool{}
	for _, k := range reservations(prev) {
		held[k] = true
	}
	var fresh []string
	for _, k := range reservations(svc) {
		if held[k] {
			delete(held, k)
		} else {
			fresh = append(fresh, k)
		}
	}
	compares, ops, err := reserve(svc, fresh)
	for k := range held {
		ops = append(ops, raftstore.Delete(k))
	}
	return compares, ops, err
}

// OnDelete releases the service's reservations.
func (a *serviceAllocator) OnDelete(_ context.Context, obj runtime.Object) []raftstore.Op {
	var ops []raftstore.Op
	for _, k := range reservations(obj.(*corev1.Service)) {
		ops = append(ops, raftstore.Delete(k))
	}
	return ops
}

func reserve(svc *corev1.Service, keys []string) ([]raftstore.Compare, []raftstore.Op, error) {
	var compares []raftstore.Compare
	var ops []raftstore.Op
	owner := []byte(svc.Namespace + "/" + svc.Name)
	for _, k := range keys {
		compares = append(compares, raftstore.Absent(k))
		ops = append(ops, raftstore.Put(k, owner))
	}
	return compares, ops, nil
}

// allocate fills in the cluster IP and node ports svc needs. prev is the stored service on
// update (nil on create); what it already holds is kept.
func (a *serviceAllocator) allocate(ctx context.Context, r registry.Reader, svc, prev *corev1.Service) error {
	if !wantsClusterIP(svc) {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
	} else if svc.Spec.ClusterIP == "" {
		ip, err := a.freeIP(ctx, r)
		if err != nil {
			return err
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
	} else if prev == nil || prev.Spec.ClusterIP != svc.Spec.ClusterIP {
		if err := a.checkRequestedIP(ctx, r, svc.Spec.ClusterIP); err != nil {
			return err
		}
	}
	if len(svc.Spec.ClusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if !wantsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
		return nil
	}
	heldPorts := map[string]bool{}
	if prev != nil {
		for _, k := range reservations(prev) {
			heldPorts[k] = true
		}
	}
	used := map[string]bool{}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		key := nodePortPrefix + strconv.Itoa(int(p.NodePort)) + "-" + string(protocolOf(*p))
		if used[key] {
			continue
		}
		used[key] = true
		if heldPorts[key] {
			continue
		}
		if int(p.NodePort) < a.cfg.NodePortMin || int(p.NodePort) > a.cfg.NodePortMax {
			return invalidService(svc, field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.cfg.NodePortMin, a.cfg.NodePortMax))
		}
		if taken, err := r.Exists(ctx, key); err != nil {
			return err
		} else if taken {
			return invalidService(svc, field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated")
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		port, err := a.freePort(ctx, r, protocolOf(*p), used)
		if err != nil {
			return err
		}
		p.NodePort = int32(port)
		used[nodePortPrefix+strconv.Itoa(port)+"-"+string(protocolOf(*p))] = true
	}
	return nil
}

func (a *serviceAllocator) checkRequestedIP(ctx context.Context, r registry.Reader, ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil // validation reports it
	}
	if !a.cfg.ServiceCIDR.Contains(addr) {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), "", field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), ip,
			fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cfg.ServiceCIDR))})
	}
	if taken, err := r.Exists(ctx, clusterIPPrefix+ip); err != nil {
		return err
	} else if taken {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), "", field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), ip,
			fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))})
	}
	return nil
}

// freeIP picks a random address of the service range that looks unreserved; the network and
// broadcast addresses and the first host (kept for the kubernetes service) are never picked.
func (a *serviceAllocator) freeIP(ctx context.Context, r registry.Reader) (string, error) {
	base := a.cfg.ServiceCIDR.Masked().Addr().As4()
	size := uint32(1) << (32 - a.cfg.ServiceCIDR.Bits())
	first, span := uint32(2), size-3 // skip .0, .1 and the broadcast address
	start := rand.Uint32N(span)
	for i := uint32(0); i < min(span, probesPerAttempt); i++ {
		off := first + (start+i)%span
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(base[:])+off)
		ip := netip.AddrFrom4(b).String()
		taken, err := r.Exists(ctx, clusterIPPrefix+ip)
		if err != nil {
			return "", err
		}
		if !taken {
			return ip, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range %s is full", a.cfg.ServiceCIDR))
}

func (a *serviceAllocator) freePort(ctx context.Context, r registry.Reader, proto corev1.Protocol, used map[string]bool) (int, error) {
	span := a.cfg.NodePortMax - a.cfg.NodePortMin + 1
	start := rand.IntN(span)
	for i := 0; i < min(span, probesPerAttempt); i++ {
		port := a.cfg.NodePortMin + (start+i)%span
		key := nodePortPrefix + strconv.Itoa(port) + "-" + string(proto)
		if used[key] {
			continue
		}
		taken, err := r.Exists(ctx, key)
		if err != nil {
			return 0, err
		}
		if !taken {
			return port, nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range %d-%d is full", a.cfg.NodePortMin, a.cfg.NodePortMax))
}

func invalidService(svc *corev1.Service, path *field.Path, value any, msg string) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{field.Invalid(path, value, msg)})
}
