package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// leaseNamespace holds the nodes' Leases.
const leaseNamespace = "kube-node-lease"

// requestTimeout bounds one API request of the agent's own.
const requestTimeout = 10 * time.Second

// reporter registers one Node and keeps its status and Lease current, with the node's own
// client. Its methods are called from one goroutine at a time.
type reporter struct {
	client kubernetes.Interface
	now    func() time.Time

	mu   sync.Mutex // protects spec and prev
	spec nodeSpec
	prev []corev1.NodeCondition
	// leases is whether the API serves Leases (decided once, at registration).
	leases bool
}

// setRuntime records the runtime version the Node reports from now on.
func (r *reporter) setRuntime(version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spec.Runtime = version
}

// register creates the Node or updates the existing one (labels, annotations and the status
// the agent owns), then sets its conditions.
func (r *reporter) register(ctx context.Context, ready readiness) (*corev1.Node, error) {
	r.mu.Lock()
	spec := r.spec
	r.mu.Unlock()
	want := buildNode(spec)
	nodes := r.client.CoreV1().Nodes()
	var node *corev1.Node
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		// Create first: a new node (the common case at scale) costs one request less.
		existing, err := nodes.Create(cctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			existing, err = nodes.Get(cctx, spec.Name, metav1.GetOptions{})
		}
		if err == nil && needsMetadata(existing, want) {
			n := existing.DeepCopy()
			n.Labels = merged(n.Labels, want.Labels)
			n.Annotations = merged(n.Annotations, want.Annotations)
			existing, err = nodes.Update(cctx, n, metav1.UpdateOptions{})
		}
		if err != nil {
			return err
		}
		n := existing.DeepCopy()
		conds := n.Status.Conditions
		n.Status = want.Status
		n.Status.Conditions = conditions(r.now(), ready, conds)
		node, err = nodes.UpdateStatus(cctx, n, metav1.UpdateOptions{})
		if err == nil {
			r.mu.Lock()
			r.prev = node.Status.Conditions
			r.mu.Unlock()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register node %s: %w", spec.Name, err)
	}
	return node, nil
}

// needsMetadata tells whether existing lacks some of want's labels or annotations.
func needsMetadata(existing, want *corev1.Node) bool {
	for k, v := range want.Labels {
		if existing.Labels[k] != v {
			return true
		}
	}
	for k, v := range want.Annotations {
		if existing.Annotations[k] != v {
			return true
		}
	}
	return false
}

func merged(into, from map[string]string) map[string]string {
	if into == nil {
		into = map[string]string{}
	}
	for k, v := range from {
		into[k] = v
	}
	return into
}

// heartbeat writes the node's conditions with a strategic merge patch of nodes/status.
func (r *reporter) heartbeat(ctx context.Context, ready readiness) error {
	r.mu.Lock()
	name := r.spec.Name
	conds := conditions(r.now(), ready, r.prev)
	r.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := r.client.CoreV1().Nodes().Patch(cctx, name, types.StrategicMergePatchType, conditionsPatch(conds), metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("heartbeat node %s: %w", name, err)
	}
	r.mu.Lock()
	r.prev = conds
	r.mu.Unlock()
	return nil
}

// updateStatus rewrites the status the agent owns (after the runtime version became known)
// along with the conditions.
func (r *reporter) updateStatus(ctx context.Context, ready readiness) error {
	r.mu.Lock()
	spec := r.spec
	r.mu.Unlock()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		node, err := r.client.CoreV1().Nodes().Get(cctx, spec.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n := node.DeepCopy()
		n.Status = buildStatus(spec)
		n.Status.Conditions = conditions(r.now(), ready, node.Status.Conditions)
		updated, err := r.client.CoreV1().Nodes().UpdateStatus(cctx, n, metav1.UpdateOptions{})
		if err == nil {
			r.mu.Lock()
			r.prev = updated.Status.Conditions
			r.mu.Unlock()
		}
		return err
	})
}

// servesLeases tells whether the API serves coordination.k8s.io/v1 leases.
func servesLeases(client kubernetes.Interface) bool {
	list, err := client.Discovery().ServerResourcesForGroupVersion(coordinationv1.SchemeGroupVersion.String())
	if err != nil {
		return false
	}
	for _, res := range list.APIResources {
		if res.Name == "leases" {
			return true
		}
	}
	return false
}

// renewLease creates or renews the node's Lease in kube-node-lease. It does nothing when the
// API serves no leases; a missing namespace is not an error (nothing to renew into).
func (r *reporter) renewLease(ctx context.Context, node *corev1.Node, duration time.Duration) error {
	if !r.leases {
		return nil
	}
	leases := r.client.CoordinationV1().Leases(leaseNamespace)
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	now := metav1.NewMicroTime(r.now())
	lease, err := leases.Get(cctx, r.spec.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: r.spec.Name, Namespace: leaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(r.spec.Name), LeaseDurationSeconds: ptr.To(int32(duration / time.Second)), RenewTime: &now,
			},
		}
		if node != nil {
			lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		_, err = leases.Create(cctx, lease, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err) {
			return nil // the namespace does not exist yet, or a race with ourselves
		}
		return err
	case err != nil:
		return err
	}
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = ptr.To(r.spec.Name)
	_, err = leases.Update(cctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil // renewed on the next beat
	}
	return err
}
