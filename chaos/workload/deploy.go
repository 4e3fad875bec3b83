package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/capstan-io/capstan/chaos/history"
)

// Deployment names and labels of the Deployment workload.
const (
	// DeploymentName is the Deployment the workload scales and rolls.
	DeploymentName = "chaos-app"
	appLabel       = "app"
	rollLabel      = "chaos-roll"
)

// Deploy is the Deployment workload: one Deployment, scaled and rolled through random masters
// while the controllers on the leader reconcile it. Without node agents its pods stay
// Pending, so convergence compares replica counts (the Deployment's spec against its
// ReplicaSets' spec and status), not readiness. A pod watcher records every binding it sees,
// for the bound-at-most-once check.
type Deploy struct {
	ns string
	kv *KV // shares the clients and the recorder
	// rng is used by Start, Run and Converge, which run one after another; wrng by the pod
	// watcher, which runs alongside them.
	rng, wrng *rand.Rand
	roll      int

	mu       sync.Mutex // protects bindings and actions
	bindings map[string]history.Binding
	actions  history.DeploymentActions

	watchCancel context.CancelFunc
	watchDone   chan struct{}
}

// NewDeploy returns the Deployment workload; it shares kv's namespace, clients and recorder.
func NewDeploy(kv *KV, seed uint64) *Deploy {
	return &Deploy{ns: kv.cfg.Namespace, kv: kv, rng: rand.New(rand.NewPCG(seed, seed^0xde9)), wrng: rand.New(rand.NewPCG(seed, seed^0x90d)),
		bindings: map[string]history.Binding{}}
}

func (d *Deploy) object(replicas int32, roll int) *appsv1.Deployment {
	labels := map[string]string{appLabel: DeploymentName}
	tmpl := map[string]string{appLabel: DeploymentName, rollLabel: strconv.Itoa(roll)}
	unavailable, surge := intstr.FromString("100%"), intstr.FromInt32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: DeploymentName, Namespace: d.ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			// Pods never become ready without agents: let a roll replace them all at once.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &unavailable, MaxSurge: &surge}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: tmpl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.invalid/capstan/chaos-app:" + strconv.Itoa(roll),
				}}},
			},
		},
	}
}

// Start creates the Deployment (or takes over one left by an earlier attempt) and starts the
// pod watcher; it returns once the watcher has opened its first stream.
func (d *Deploy) Start(ctx context.Context, c Cluster) error {
	for {
		eps := upEndpoints(c)
		if len(eps) == 0 {
			return ErrNoMaster
		}
		cs, err := d.kv.clientFor(eps[d.rng.IntN(len(eps))].Config)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cs.AppsV1().Deployments(d.ns).Create(rctx, d.object(2, 0), metav1.CreateOptions{})
		cancel()
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload: create deployment %s: %v", DeploymentName, err)
		case <-time.After(200 * time.Millisecond): // retry interval
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	d.watchCancel, d.watchDone = cancel, make(chan struct{})
	opened := make(chan struct{})
	go func() { // ends when StopWatchers cancels wctx
		defer close(d.watchDone)
		d.watchPods(wctx, c, opened)
	}()
	select {
	case <-opened:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("workload: the pod watcher did not start: %w", ctx.Err())
	}
}

// Run scales and rolls the Deployment through random masters until ctx ends: a read, then
// an update with the read's resourceVersion as precondition, every 0.3-1 s.
func (d *Deploy) Run(ctx context.Context, c Cluster) error {
	for ctx.Err() == nil {
		pause(ctx, 300*time.Millisecond+time.Duration(d.rng.Int64N(int64(700*time.Millisecond))))
		eps := upEndpoints(c)
		if len(eps) == 0 || ctx.Err() != nil {
			continue
		}
		ep := eps[d.rng.IntN(len(eps))]
		roll := d.rng.IntN(3) == 0
		replicas := int32(1 + d.rng.IntN(4))
		d.act(ctx, ep, roll, replicas)
	}
	return nil
}

// act performs one scale or roll and counts its outcome.
func (d *Deploy) act(ctx context.Context, ep Endpoint, roll bool, replicas int32) {
	cs, err := d.kv.clientFor(ep.Config)
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, d.kv.cfg.OpTimeout)
	defer cancel()
	dep, err := cs.AppsV1().Deployments(d.ns).Get(rctx, DeploymentName, metav1.GetOptions{})
	if err != nil {
		return
	}
	next := dep.DeepCopy()
	if roll {
		d.roll++
		next.Spec.Template.Labels[rollLabel] = "r" + strconv.Itoa(d.roll)
		next.Spec.Template.Spec.Containers[0].Image = "registry.invalid/capstan/chaos-app:r" + strconv.Itoa(d.roll)
	} else {
		next.Spec.Replicas = &replicas
	}
	_, err = cs.AppsV1().Deployments(d.ns).Update(rctx, next, metav1.UpdateOptions{})
	outcome, _ := classify(err)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case outcome == history.OK && roll:
		d.actions.Rolls++
	case outcome == history.OK:
		d.actions.Scales++
	case outcome == history.Conflict:
		d.actions.Conflicts++
	case outcome == history.Unknown:
		d.actions.Unknown++
	default:
		d.actions.Failed++
	}
}

// watchPods lists and watches the Deployment's pods on any master, recording bindings, until
// ctx ends.
func (d *Deploy) watchPods(ctx context.Context, c Cluster, opened chan struct{}) {
	var once sync.Once
	rv := ""
	for ctx.Err() == nil {
		eps := upEndpoints(c)
		if len(eps) == 0 {
			pause(ctx, 50*time.Millisecond) // every master is down; wait for one
			continue
		}
		ep := eps[d.wrng.IntN(len(eps))]
		cs, err := d.kv.clientFor(ep.Config)
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		sel := appLabel + "=" + DeploymentName
		if rv == "" {
			lctx, cancel := context.WithTimeout(ctx, d.kv.cfg.OpTimeout)
			list, err := cs.CoreV1().Pods(d.ns).List(lctx, metav1.ListOptions{LabelSelector: sel})
			cancel()
			if err != nil {
				pause(ctx, 100*time.Millisecond)
				continue
			}
			for i := range list.Items {
				d.observe(&list.Items[i], ep.Name)
			}
			rv = list.ResourceVersion
		}
		w, err := cs.CoreV1().Pods(d.ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
			}
			pause(ctx, 100*time.Millisecond)
			continue
		}
		once.Do(func() { close(opened) })
		rv = d.drain(ctx, w, ep.Name, rv)
		w.Stop()
	}
}

// drain records a watch stream's pods and returns the revision to resume from ("" to relist).
func (d *Deploy) drain(ctx context.Context, w watch.Interface, master, rv string) string {
	for {
		select {
		case <-ctx.Done():
			return rv
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv
			}
			if ev.Type == watch.Error {
				return "" // relist: 410 or a broken stream
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				return ""
			}
			rv = pod.ResourceVersion
			if ev.Type != watch.Bookmark {
				d.observe(pod, master)
			}
		}
	}
}

// observe records a pod's binding, once per (pod UID, node).
func (d *Deploy) observe(pod *corev1.Pod, master string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(pod.UID) + "/" + pod.Spec.NodeName
	if _, ok := d.bindings[key]; ok {
		return
	}
	d.bindings[key] = history.Binding{UID: string(pod.UID), Pod: pod.Name, Node: pod.Spec.NodeName, Master: master, At: d.kv.rec.Now()}
}

// StopWatchers ends the pod watcher.
func (d *Deploy) StopWatchers() {
	if d.watchCancel != nil {
		d.watchCancel()
		<-d.watchDone
	}
}

// Converge waits until the controllers reconciled the Deployment (the current ReplicaSet has
// spec and status replicas equal to the Deployment's, every other ReplicaSet is at 0 and the
// Deployment's status observed its generation) or ctx ends, and records what it saw.
func (d *Deploy) Converge(ctx context.Context, c Cluster) history.DeploymentFinal {
	started := d.kv.rec.Now()
	var f history.DeploymentFinal
	for {
		f = d.read(ctx, c)
		if f.Converged || ctx.Err() != nil {
			break
		}
		pause(ctx, 200*time.Millisecond) // polling interval
	}
	f.WaitedMs = float64(d.kv.rec.Now()-started) / 1e6
	d.mu.Lock()
	f.Actions = d.actions
	d.mu.Unlock()
	return f
}

// read reads the Deployment and its ReplicaSets through one master, linearizably.
func (d *Deploy) read(ctx context.Context, c Cluster) history.DeploymentFinal {
	f := history.DeploymentFinal{Name: DeploymentName}
	eps := upEndpoints(c)
	if len(eps) == 0 {
		f.Err = ErrNoMaster.Error()
		return f
	}
	cs, err := d.kv.clientFor(eps[d.rng.IntN(len(eps))].Config)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dep, err := cs.AppsV1().Deployments(d.ns).Get(rctx, DeploymentName, metav1.GetOptions{})
	if err != nil {
		f.Err = err.Error()
		return f
	}
	rss, err := cs.AppsV1().ReplicaSets(d.ns).List(rctx, metav1.ListOptions{LabelSelector: appLabel + "=" + DeploymentName})
	if err != nil {
		f.Err = err.Error()
		return f
	}
	f.Generation, f.ObservedGeneration = dep.Generation, dep.Status.ObservedGeneration
	if dep.Spec.Replicas != nil {
		f.Replicas = *dep.Spec.Replicas
	}
	f.Template = dep.Spec.Template.Labels[rollLabel]
	current := 0
	converged := f.ObservedGeneration >= f.Generation
	for _, rs := range rss.Items {
		if rs.DeletionTimestamp != nil {
			continue
		}
		s := history.ReplicaSetState{Name: rs.Name, Template: rs.Spec.Template.Labels[rollLabel], Status: rs.Status.Replicas}
		if rs.Spec.Replicas != nil {
			s.Spec = *rs.Spec.Replicas
		}
		if s.Template == f.Template {
			current++
			converged = converged && s.Spec == f.Replicas && s.Status == f.Replicas
		} else {
			converged = converged && s.Spec == 0 && s.Status == 0
		}
		f.ReplicaSets = append(f.ReplicaSets, s)
	}
	sort.Slice(f.ReplicaSets, func(i, j int) bool { return f.ReplicaSets[i].Name < f.ReplicaSets[j].Name })
	f.Converged = converged && current == 1
	return f
}

// Bindings returns every (pod, node) observation, the unbound ones included.
func (d *Deploy) Bindings() []history.Binding {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]history.Binding, 0, len(d.bindings))
	for _, b := range d.bindings {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].At != out[j].At {
			return out[i].At < out[j].At
		}
		return out[i].UID+out[i].Node < out[j].UID+out[j].Node
	})
	return out
}
