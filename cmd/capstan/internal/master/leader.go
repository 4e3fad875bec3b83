package master

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstan-io/capstan/apiserver/registry"
	"github.com/capstan-io/capstan/controllers/manager"
	"github.com/capstan-io/capstan/nodeagent/gossip"
	"github.com/capstan-io/capstan/raftstore"
)

// reconcileInterval is how often the leader re-checks the objects it keeps.
const reconcileInterval = 10 * time.Second

// leaderTasks runs on the Raft leader after its barrier, until leadership ends: it makes sure
// the cluster's built-in objects exist and keeps the kubernetes service pointing at the masters.
func (m *Master) leaderTasks(ctx context.Context) {
	for ctx.Err() == nil {
		if err := m.api.Bootstrap(ctx); err != nil {
			m.log.Warn("could not create the built-in objects yet", "error", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		break
	}
	t := time.NewTicker(reconcileInterval)
	defer t.Stop()
	for {
		if err := m.reconcileKubernetesService(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("could not reconcile the kubernetes service", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcileKubernetesService keeps default/kubernetes (the first service IP, port 443) and its
// endpoints: the registered masters' API addresses.
func (m *Master) reconcileKubernetesService(ctx context.Context) error {
	reg := m.api.Registry()
	svcs := reg.MustStore(schema.GroupResource{Resource: "services"})
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{ClusterIP: m.serviceIP.String(), Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}}},
	}
	// Create only when missing: creating it again would fail on its cluster IP (422) before
	// the name, and leave the endpoints unreconciled.
	switch _, err := svcs.Get(ctx, metav1.NamespaceDefault, svc.Name, metav1.GetOptions{}); {
	case apierrors.IsNotFound(err):
		if _, err := svcs.Create(ctx, metav1.NamespaceDefault, svc, registry.WriteOptions{FieldManager: "capstan-master"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	case err != nil:
		return err
	}
	list, err := m.store.List(ctx, keyMasters, raftstore.ListOptions{})
	if err != nil {
		return err
	}
	members, err := m.store.Members(ctx)
	if err != nil {
		return err
	}
	current := map[string]bool{}
	for _, mem := range members {
		current[mem.ID] = true
	}
	byPort := map[int32][]corev1.EndpointAddress{}
	for _, kv := range list.KVs {
		var rec masterRecord
		if json.Unmarshal(kv.Value, &rec) != nil {
			continue
		}
		if !current[rec.Name] {
			// A master removed (or left behind by a restore) is no longer an endpoint.
			if _, err := m.store.Txn(ctx, raftstore.Txn{Compares: []raftstore.Compare{raftstore.ModRevisionIs(kv.Key, kv.ModRevision)}, Ops: []raftstore.Op{raftstore.Delete(kv.Key)}}); err != nil {
				return err
			}
			continue
		}
		u, err := url.Parse(rec.APIURL)
		if err != nil {
			continue
		}
		host, port, err := net.SplitHostPort(u.Host)
		p, _ := strconv.Atoi(port)
		if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsLoopback() || p == 0 {
			continue // endpoints hold IPs pods can reach: no host names, no loopback
		}
		byPort[int32(p)] = append(byPort[int32(p)], corev1.EndpointAddress{IP: host})
	}
	var subsets []corev1.EndpointSubset
	for port, addrs := range byPort {
		sort.Slice(addrs, func(i, j int) bool { return addrs[i].IP < addrs[j].IP })
		subsets = append(subsets, corev1.EndpointSubset{Addresses: addrs, Ports: []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}}})
	}
	sort.Slice(subsets, func(i, j int) bool { return subsets[i].Ports[0].Port < subsets[j].Ports[0].Port })
	eps := reg.MustStore(schema.GroupResource{Resource: "endpoints"})
	want := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault}, Subsets: subsets}
	_, err = eps.Create(ctx, metav1.NamespaceDefault, want, registry.WriteOptions{FieldManager: "capstan-master"})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = eps.Mutate(ctx, metav1.NamespaceDefault, "kubernetes", registry.WriteOptions{}, func(obj runtime.Object) error {
		cur := obj.(*corev1.Endpoints)
		if !apiequality.Semantic.DeepEqual(cur.Subsets, subsets) {
			cur.Subsets = subsets
		}
		return nil
	})
	return err
}

// runControllers runs the scheduler and the controllers while this master leads.
func (m *Master) runControllers(ctx context.Context) {
	cfg := manager.DefaultConfig()
	cfg.API, cfg.Fence, cfg.Logger = m.api, m.store.LeaderFence, m.log
	cfg.Liveness = gossipLiveness{m}
	cfg.NodeIPAM, _ = m.cfg.nodeIPAM() // validated at start
	if err := manager.Run(ctx, cfg); err != nil {
		m.log.Error("could not run the controllers", "error", err)
	}
}

// gossipLiveness is the master's gossip membership, which starts some time after the master:
// until then no node is known, so no node is judged.
type gossipLiveness struct{ m *Master }

// Member implements nodelifecycle.Liveness.
func (l gossipLiveness) Member(name string) (gossip.Member, bool) {
	if g := l.m.gossip.Load(); g != nil {
		return g.Member(name)
	}
	return gossip.Member{}, false
}

// Subscribe implements nodelifecycle.Liveness; before gossip starts it never delivers.
func (l gossipLiveness) Subscribe() (<-chan gossip.Member, func()) {
	if g := l.m.gossip.Load(); g != nil {
		return g.Subscribe()
	}
	return nil, func() {}
}
