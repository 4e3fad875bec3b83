package agent

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// leaseNamespace holds the nodes' Leases.
const leaseNamespace = "kube-node-lease"

// requestTimeout bounds one API request of the agent's own.
const requestTimeout = 10 * time.Second

// reporter registers one Node and writes its status when the status policy says so (see
// due), with the node's own client. Its methods may be called from several goroutines.
type reporter struct {
	client kubernetes.Interface
	now    func() time.Time
	// every is the longest time between two status writes while nothing changes.
	every time.Duration

	mu   sync.Mutex // protects the fields below
	spec nodeSpec
	// prev are the conditions last written, nil before the first write.
	prev []corev1.NodeCondition
	// reported is when the status was last written.
	reported time.Time
	// written is the resourceVersion of the last write.
	written uint64
	// stored is the Ready condition the API showed (observe) after the last write, nil when
	// none was seen since; storedAt is that Node's resourceVersion.
	stored   *corev1.NodeCondition
	storedAt uint64
	// leases is whether the API serves Leases (decided once, at registration).
	leases bool
}

// setRuntime records the runtime version the Node reports from now on.
func (r *reporter) setRuntime(version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spec.Runtime = version
}

// register creates the Node with its status and conditions in one request (the API keeps the
// status of a created Node), or, when it exists, updates its labels, annotations and the
// status the agent owns.
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
		now := r.now()
		// Create first: a new node (the common case at scale) costs one write.
		create := want.DeepCopy()
		create.Status.Conditions = conditions(now, ready, nil)
		existing, err := nodes.Create(cctx, create, metav1.CreateOptions{})
		if err == nil {
			node = existing
			r.reportedAt(now, existing.Status.Conditions, existing.ResourceVersion)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		if existing, err = nodes.Get(cctx, spec.Name, metav1.GetOptions{}); err != nil {
			return err
		}
		if needsMetadata(existing, want) {
			n := existing.DeepCopy()
			n.Labels = merged(n.Labels, want.Labels)
			n.Annotations = merged(n.Annotations, want.Annotations)
			if n.Spec.PodCIDR == "" {
				n.Spec.PodCIDR, n.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
			}
			if existing, err = nodes.Update(cctx, n, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		n := existing.DeepCopy()
		n.Status = want.Status
		n.Status.Conditions = conditions(now, ready, existing.Status.Conditions)
		if node, err = nodes.UpdateStatus(cctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		r.reportedAt(now, node.Status.Conditions, node.ResourceVersion)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("register node %s: %w", spec.Name, err)
	}
	return node, nil
}

// reportedAt records a successful write of conds at now, stored at resourceVersion rv. What
// observe saw of later versions is kept.
func (r *reporter) reportedAt(now time.Time, conds []corev1.NodeCondition, rv string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prev, r.reported = conds, now
	r.written = max(r.written, revision(rv))
	if r.stored != nil && r.storedAt <= r.written {
		r.stored = nil
	}
}

// revision returns a resourceVersion as a number (in Capstan it is the store's revision, the
// Raft index of the write), 0 when it is not one.
func revision(rv string) uint64 {
	n, _ := strconv.ParseUint(rv, 10, 64)
	return n
}

// needsMetadata tells whether existing lacks some of want's labels or annotations, or the pod
// CIDR want brings while existing has none.
func needsMetadata(existing, want *corev1.Node) bool {
	if existing.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
		return true
	}
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

// Why a status report is due (the values of due).
const (
	dueFirst       = "first report"
	dueChanged     = "readiness changed"
	dueOverwritten = "Ready condition overwritten"
	duePeriodic    = "report interval elapsed"
)

// due tells why the status must be written at now for readiness ready, or "" when it need
// not be. The policy, like the kubelet's with its node status report frequency and unlike its
// 10-second heartbeat (liveness is gossip here): write when nothing was written yet, when the
// Ready condition the agent would write differs from the last one written, when the API shows
// a Ready condition other than the last one written (the node lifecycle controller marked the
// node Unknown while gossip lost it, or someone edited the status), and otherwise once every
// r.every.
func (r *reporter) due(now time.Time, ready readiness) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := readyCondition(r.prev)
	switch {
	case r.prev == nil || !ok:
		return dueFirst
	case !sameCondition(last, readyConditionOf(ready)):
		return dueChanged
	case r.stored != nil && !sameCondition(last, *r.stored):
		return dueOverwritten
	case !now.Before(r.reported.Add(r.every)):
		return duePeriodic
	}
	return ""
}

// nextPeriodic returns when the next report is due if nothing changes.
func (r *reporter) nextPeriodic() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reported.Add(r.every)
}

// stagger makes the next periodic report come d earlier, so that nodes registered together
// spread their reports over the interval.
func (r *reporter) stagger(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reported = r.reported.Add(-d)
}

// observe records the Node as the API shows it and tells whether its Ready condition differs
// from the last one written, so that a report is due.
func (r *reporter) observe(node *corev1.Node) bool {
	cond, ok := readyCondition(node.Status.Conditions)
	if !ok {
		cond = corev1.NodeCondition{Type: corev1.NodeReady} // no Ready condition at all
	}
	rv := revision(node.ResourceVersion)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prev == nil || (rv != 0 && rv <= r.written) {
		return false // not registered yet, or older than (or the echo of) the last write
	}
	r.stored, r.storedAt = &cond, rv
	last, _ := readyCondition(r.prev)
	return !sameCondition(last, cond)
}

// sync writes the node's conditions if a report is due and tells why it wrote.
func (r *reporter) sync(ctx context.Context, ready readiness) (string, error) {
	why := r.due(r.now(), ready)
	if why == "" {
		return "", nil
	}
	return why, r.report(ctx, ready)
}

// readyCondition returns the Ready condition of conds.
func readyCondition(conds []corev1.NodeCondition) (corev1.NodeCondition, bool) {
	for _, c := range conds {
		if c.Type == corev1.NodeReady {
			return c, true
		}
	}
	return corev1.NodeCondition{}, false
}

// sameCondition compares what a condition says, not when.
func sameCondition(a, b corev1.NodeCondition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message
}

// report writes the node's conditions with a strategic merge patch of nodes/status.
func (r *reporter) report(ctx context.Context, ready readiness) error {
	now := r.now()
	r.mu.Lock()
	name := r.spec.Name
	conds := conditions(now, ready, r.prev)
	r.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	node, err := r.client.CoreV1().Nodes().Patch(cctx, name, types.StrategicMergePatchType, conditionsPatch(conds), metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("report the status of node %s: %w", name, err)
	}
	r.reportedAt(now, conds, node.ResourceVersion)
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
		now := r.now()
		n.Status.Conditions = conditions(now, ready, node.Status.Conditions)
		updated, err := r.client.CoreV1().Nodes().UpdateStatus(cctx, n, metav1.UpdateOptions{})
		if err == nil {
			r.reportedAt(now, updated.Status.Conditions, updated.ResourceVersion)
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

// watchNodes starts an informer on the Nodes tweak selects and calls onNode with every Node
// added or updated. The cache keeps only each Node's name, resourceVersion and Ready
// condition, so that watching a thousand hollow nodes costs little memory. The informer's
// goroutines exit when ctx ends; the returned factory's Shutdown waits for them.
func watchNodes(ctx context.Context, client kubernetes.Interface, tweak func(*metav1.ListOptions), onNode func(*corev1.Node)) informers.SharedInformerFactory {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(tweak))
	inf := factory.Core().V1().Nodes().Informer()
	_ = inf.SetTransform(slimNode)
	handle := func(obj any) {
		if node, ok := obj.(*corev1.Node); ok {
			onNode(node)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: handle, UpdateFunc: func(_, obj any) { handle(obj) }})
	factory.Start(ctx.Done())
	return factory
}

// slimNode strips a Node to what the status policy looks at: its name, resourceVersion and
// Ready condition.
func slimNode(obj any) (any, error) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node.Name, ResourceVersion: node.ResourceVersion, UID: node.UID}}
	if c, ok := readyCondition(node.Status.Conditions); ok {
		slim.Status.Conditions = []corev1.NodeCondition{c}
	}
	return slim, nil
}
