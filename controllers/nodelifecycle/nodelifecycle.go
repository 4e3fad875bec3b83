// Package nodelifecycle turns gossip's view of the node agents into Node status and pod
// evictions, on the Raft leader: a node whose agent the cluster declares dead gets
// Ready=Unknown and the node.kubernetes.io/unreachable:NoExecute taint, and its pods that do
// not tolerate the taint are deleted (at once, or after their tolerationSeconds) so their
// controllers replace them elsewhere. A node whose agent comes back loses the taint.
//
// Liveness comes from gossip, not from heartbeat writes: Capstan's agents write nothing while
// healthy. Gossip's "dead" is a hint, not a fence, so the controller only acts on deaths
// gossip has confirmed (memberlist's suspicion with Lifeguard), and a new leader waits one
// convergence period before acting at all, so that a leader change never makes live nodes look
// dead.
package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/nodeagent/gossip"
)

// GossipAnnotation marks Nodes whose agent takes part in gossip; only they are judged by it.
// Nodes without it (registered by other means) are left alone.
const GossipAnnotation = "capstan.io/gossip"

// Liveness is the gossip membership as this master sees it.
type Liveness interface {
	Member(name string) (gossip.Member, bool)
	Subscribe() (<-chan gossip.Member, func())
}

// Options tune the controller.
type Options struct {
	// ConvergencePeriod is how long a new leader waits before acting on deaths.
	ConvergencePeriod time.Duration
	// Interval is how often every node and eviction is re-checked.
	Interval time.Duration
	Clock    clock.WithTicker
	Logger   *slog.Logger
}

// DefaultOptions returns Capstan's timing.
func DefaultOptions() Options {
	return Options{ConvergencePeriod: 5 * time.Second, Interval: time.Second, Clock: clock.RealClock{}}
}

// Controller is the node lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	live     Liveness
	recorder record.EventRecorder
	opts     Options
	log      *slog.Logger
	started  time.Time
}

// NewController returns a controller.
func NewController(client kubernetes.Interface, nodeInformer coreinformers.NodeInformer, podInformer coreinformers.PodInformer, live Liveness, recorder record.EventRecorder, opts Options) *Controller {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		client: client, nodes: nodeInformer.Lister(), pods: podInformer.Lister(),
		synced: []cache.InformerSynced{nodeInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		live:   live, recorder: recorder, opts: opts, log: log.With("controller", "nodelifecycle"),
	}
}

// Run reconciles on every gossip change and every interval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	c.started = c.opts.Clock.Now()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	changes, stop := c.live.Subscribe()
	defer stop()
	t := c.opts.Clock.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("node lifecycle pass failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-t.C():
		}
	}
}

// Sync reconciles every node once: status and taint from gossip, then evictions.
func (c *Controller) Sync(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	now := c.opts.Clock.Now()
	settled := now.Sub(c.started) >= c.opts.ConvergencePeriod
	var firstErr error
	for _, node := range nodes {
		if node.Annotations[GossipAnnotation] != "true" {
			continue
		}
		m, known := c.live.Member(node.Name)
		gone := known && m.State != gossip.Alive
		switch {
		case gone && settled && !hasUnreachableTaint(node):
			err = c.markUnreachable(ctx, node, now, m)
		case known && m.State == gossip.Alive && hasUnreachableTaint(node):
			err = c.markReachable(ctx, node)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err := c.evict(ctx, node, now); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func hasUnreachableTaint(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeUnreachable && t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// markUnreachable sets Ready=Unknown and adds the unreachable NoExecute taint.
func (c *Controller) markUnreachable(ctx context.Context, node *corev1.Node, now time.Time, m gossip.Member) error {
	n := node.DeepCopy()
	ts := metav1.NewTime(now)
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &ts})
	updated, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("taint node %s: %w", node.Name, err)
	}
	setCondition(&updated.Status, corev1.NodeCondition{
		Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
		Message:           fmt.Sprintf("Kubelet stopped posting node status: its agent is %s in the cluster's gossip since %s.", m.State, m.Since.UTC().Format(time.RFC3339)),
		LastHeartbeatTime: ts, LastTransitionTime: ts,
	})
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("mark node %s NotReady: %w", node.Name, err)
	}
	c.recorder.Eventf(node, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	c.log.Info("node is unreachable", "node", node.Name, "gossip", m.State.String())
	return nil
}

// markReachable removes the unreachable taint; the agent reports Ready itself.
func (c *Controller) markReachable(ctx context.Context, node *corev1.Node) error {
	n := node.DeepCopy()
	var kept []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != corev1.TaintNodeUnreachable {
			kept = append(kept, t)
		}
	}
	n.Spec.Taints = kept
	if _, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("untaint node %s: %w", node.Name, err)
	}
	c.recorder.Eventf(node, corev1.EventTypeNormal, "NodeReachable", "Node %s is reachable again", node.Name)
	c.log.Info("node is reachable again", "node", node.Name)
	return nil
}

func setCondition(status *corev1.NodeStatus, cond corev1.NodeCondition) {
	for i, c := range status.Conditions {
		if c.Type == cond.Type {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			status.Conditions[i] = cond
			return
		}
	}
	status.Conditions = append(status.Conditions, cond)
}

// evict deletes the pods of node that do not tolerate its NoExecute taints, once their
// toleration time has passed.
func (c *Controller) evict(ctx context.Context, node *corev1.Node, now time.Time) error {
	var taints []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			taints = append(taints, t)
		}
	}
	if len(taints) == 0 {
		return nil
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, pod := range pods {
		if pod.Spec.NodeName != node.Name || pod.DeletionTimestamp != nil {
			continue
		}
		deadline, evict := evictionTime(pod, taints)
		if !evict || now.Before(deadline) {
			continue
		}
		uid := pod.UID
		err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("evict pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		c.recorder.Eventf(pod, corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	}
	return nil
}

// evictionTime returns when a pod must go because of taints: at once for a taint it does not
// tolerate, after tolerationSeconds for one it tolerates for a while, never when it tolerates
// them all for ever.
func evictionTime(pod *corev1.Pod, taints []corev1.Taint) (time.Time, bool) {
	var deadline time.Time
	evict := false
	for i := range taints {
		t := &taints[i]
		added := time.Time{}
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		tolerated, forever, seconds := false, false, int64(0)
		for j := range pod.Spec.Tolerations {
			tol := &pod.Spec.Tolerations[j]
			if !tol.ToleratesTaint(t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				forever = true
				break
			}
			if *tol.TolerationSeconds > seconds {
				seconds = *tol.TolerationSeconds
			}
		}
		switch {
		case !tolerated:
			return added, true
		case forever:
			continue
		}
		d := added.Add(time.Duration(max(seconds, 0)) * time.Second)
		if !evict || d.Before(deadline) {
			deadline, evict = d, true
		}
	}
	return deadline, evict
}
