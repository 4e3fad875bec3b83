package agent

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/capstan-io/capstan/nodeagent/gossip"
)

// HollowLabel marks the Nodes of hollow nodes.
const HollowLabel = "capstan.io/hollow"

// hollowRuntime is the runtime version hollow nodes report.
const hollowRuntime = "fake://hollow"

// hollowJoinParallelism bounds the joins and registrations in flight at once. Each is a few
// round trips to the masters; the masters' Raft log batches concurrent writes, so many in
// flight register faster than few.
const hollowJoinParallelism = 64

// hollowPodWorkers is how many pod status writers the hollow nodes share.
const hollowPodWorkers = 16

// hollowCapacity is what every hollow node offers: a mid-size machine.
var hollowCapacity = hostInfo{CPUs: 8, MemoryBytes: 32 << 30, EphemeralBytes: 100 << 30, KernelVersion: "hollow", OSImage: "Capstan hollow node"}

// hollowNode is one simulated node.
type hollowNode struct {
	name string
	ip   string // the node's address, the pods' host IP
	// podCIDR is the node's own block of 100.64.0.0/10 (hollowPodCIDR); its pods' IPs are
	// in it.
	podCIDR netip.Prefix
	client  kubernetes.Interface
	rep     *reporter
	gossip  *gossip.Gossip // nil for nodes without a gossip member
	// kick wakes the node's status loop when its stored Ready condition was overwritten.
	kick chan struct{}
}

// RunHollow runs cfg.Hollow simulated nodes named <Name>-0 ... <Name>-<Hollow-1> until ctx
// ends. Each joins with its own identity (kept in <DataDir>/hollow/<node>) and registers its
// Node, status included, with that identity in one request. Afterwards a node writes its
// status only when the status policy says so (reporter.due): when the API shows a Ready
// condition it did not write, and otherwise once every status report interval (5 minutes by
// default, spread over the nodes), so 1,000 idle hollow nodes cost about 3 writes per second.
// One watch of the hollow Nodes tells them when their Ready condition changed. The nodes run
// their pods by writing their status: Running and Ready as soon as they are bound, deleted
// once they are deleted gracefully. One watch of every bound pod, through the first node's
// client, feeds them all. The first HollowGossip nodes join gossip; the others do not carry
// the gossip annotation. Hollow nodes serve no kubelet API and keep no Lease.
func RunHollow(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Hollow < 1 {
		return fmt.Errorf("hollow %d must be positive", cfg.Hollow)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("hollow", cfg.Name)
	start := time.Now()
	nodes := make([]*hollowNode, cfg.Hollow)
	var masters *masterSet
	var mastersOnce sync.Once
	every := cfg.reportInterval()
	err := parallel(ctx, cfg.Hollow, hollowJoinParallelism, func(i int) error {
		name := fmt.Sprintf("%s-%d", cfg.Name, i)
		dir := filepath.Join(cfg.DataDir, "hollow", name)
		id, err := loadOrJoinHollow(ctx, dir, cfg, name, log)
		if err != nil {
			return err
		}
		var setErr error
		mastersOnce.Do(func() { masters, setErr = newMasterSet(id.state.Masters, time.Now) })
		if setErr != nil {
			return setErr
		}
		if masters == nil {
			return fmt.Errorf("hollow node %s: no masters known", name)
		}
		client, err := newClient(id, masters, "capstan-hollow/"+name)
		if err != nil {
			return err
		}
		n := &hollowNode{name: name, ip: cfg.Advertise, podCIDR: hollowPodCIDR(i), client: client, kick: make(chan struct{}, 1)}
		n.rep = &reporter{client: client, now: time.Now, every: every, spec: nodeSpec{
			Name: name, Advertise: cfg.Advertise, MaxPods: cfg.MaxPods, Runtime: hollowRuntime, Host: hollowCapacity, PodCIDR: n.podCIDR.String(),
			Gossip: i < cfg.HollowGossip, Labels: map[string]string{HollowLabel: "true"},
		}}
		if i < cfg.HollowGossip {
			if n.gossip, err = startHollowGossip(cfg, id, name, log); err != nil {
				return err
			}
		}
		nodes[i] = n
		for attempt := 0; ; attempt++ {
			if _, err = n.rep.register(ctx, readiness{Ready: true}); err == nil {
				// Spread the periodic reports of nodes registered together over the interval.
				n.rep.stagger(time.Duration(int64(every) * int64(i) / int64(len(nodes))))
				return nil
			}
			if attempt%10 == 0 {
				log.Warn("could not register a hollow node yet", "node", name, "error", err)
			}
			if !sleepCtx(ctx, time.Second) {
				return err
			}
		}
	})
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			if n != nil && n.gossip != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = n.gossip.Leave(leaveTimeout)
				}()
			}
		}
		wg.Wait()
	}()
	if err != nil {
		return err
	}
	log.Info("hollow nodes registered", "nodes", cfg.Hollow, "gossip", min(cfg.Hollow, cfg.HollowGossip), "took", time.Since(start).Round(time.Millisecond),
		"statusReportInterval", every)
	// The identities were written without a sync each (see loadOrJoinHollow); make them
	// durable at once.
	if err := syncFS(filepath.Join(cfg.DataDir, "hollow")); err != nil {
		log.Warn("could not sync the hollow nodes' identities to disk", "error", err)
	}

	byName := make(map[string]*hollowNode, len(nodes))
	for _, n := range nodes {
		byName[n.name] = n
	}
	nodeFactory := watchNodes(ctx, nodes[0].client, func(o *metav1.ListOptions) { o.LabelSelector = HollowLabel + "=true" }, func(node *corev1.Node) {
		if n := byName[node.Name]; n != nil && n.rep.observe(node) {
			select {
			case n.kick <- struct{}{}:
			default:
			}
		}
	})
	defer nodeFactory.Shutdown()

	var wg sync.WaitGroup // status loops and pod workers; they exit when ctx ends
	defer wg.Wait()
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.statusLoop(ctx, cfg.StatusInterval, log)
		}()
	}
	runHollowPods(ctx, nodes, byName, log)
	return nil
}

// statusLoop writes the hollow node's status whenever the status policy says so: woken by
// kick or by the next periodic report. A failed write is retried after retry. It returns
// when ctx ends.
func (n *hollowNode) statusLoop(ctx context.Context, retry time.Duration, log *slog.Logger) {
	t := time.NewTimer(time.Until(n.rep.nextPeriodic()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-t.C:
		}
		next := retry
		if why, err := n.rep.sync(ctx, readiness{Ready: true}); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Debug("hollow node status report failed", "node", n.name, "error", err)
		} else {
			if why == dueOverwritten {
				log.Info("hollow node reported Ready again", "node", n.name)
			}
			next = time.Until(n.rep.nextPeriodic())
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// startHollowGossip starts a gossip member for a hollow node and joins the masters.
func startHollowGossip(cfg Config, id *identity, name string, log *slog.Logger) (*gossip.Gossip, error) {
	key, err := id.gossipKey()
	if err != nil {
		return nil, err
	}
	gc := gossip.DefaultConfig()
	gc.Name, gc.BindAddr, gc.Port, gc.AdvertiseAddr = name, cfg.BindAddress, 0, cfg.Advertise
	gc.Key, gc.Meta = key, gossip.Meta{Role: gossip.RoleNode}
	g, err := gossip.Start(gc)
	if err != nil {
		return nil, err
	}
	if len(id.state.GossipPeers) > 0 {
		if _, err := g.Join(id.state.GossipPeers); err != nil {
			log.Debug("a hollow node could not reach the masters' gossip", "node", name, "error", err)
		}
	}
	return g, nil
}

// parallel runs f(0..n-1) with at most workers calls at once and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < min(n, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					cancel()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// runHollowPods plays the pods bound to the hollow nodes until ctx ends.
func runHollowPods(ctx context.Context, nodes []*hollowNode, byName map[string]*hollowNode, log *slog.Logger) {
	factory := informers.NewSharedInformerFactoryWithOptions(nodes[0].client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName!="
	}))
	inf := factory.Core().V1().Pods().Informer()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	enqueue := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && byName[pod.Spec.NodeName] != nil {
			if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
				queue.Add(key)
			}
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }})
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer queue.ShutDown()
	for w := 0; w < hollowPodWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				obj, exists, _ := inf.GetStore().GetByKey(key)
				var err error
				if exists {
					pod := obj.(*corev1.Pod)
					err = playPod(ctx, byName[pod.Spec.NodeName], pod)
				}
				if err != nil && ctx.Err() == nil {
					log.Debug("hollow pod update failed", "pod", key, "error", err)
					queue.AddRateLimited(key)
				} else {
					queue.Forget(key)
				}
				queue.Done(key)
			}
		}()
	}
	<-ctx.Done()
}

// playPod moves a hollow node's pod on: a pod being deleted is deleted for good, a pod that is
// not yet running is reported Running and Ready.
func playPod(ctx context.Context, n *hollowNode, pod *corev1.Pod) error {
	if n == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	pods := n.client.CoreV1().Pods(pod.Namespace)
	if pod.DeletionTimestamp != nil {
		uid := pod.UID
		err := pods.Delete(cctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = hollowPodStatus(pod, n.ip, n.podCIDR, time.Now())
	_, err := pods.UpdateStatus(cctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// hollowPodStatus is the status of a pod whose containers all started at now.
func hollowPodStatus(pod *corev1.Pod, hostIP string, podCIDR netip.Prefix, now time.Time) corev1.PodStatus {
	ts := metav1.NewTime(now)
	ip := hollowPodIP(podCIDR, string(pod.UID))
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, StartTime: &ts, QOSClass: pod.Status.QOSClass,
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: hostIP, HostIPs: []corev1.HostIP{{IP: hostIP}},
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: ts})
	}
	for _, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hollow://" + c.Image, ContainerID: "fake://" + string(pod.UID) + "/" + c.Name, Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: ts, FinishedAt: ts}},
		})
	}
	started := true
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hollow://" + c.Image, ContainerID: "fake://" + string(pod.UID) + "/" + c.Name,
			Ready: true, Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}},
		})
	}
	return st
}

// hollowPodCIDR returns hollow node i's pod CIDR: the i-th /24 of 100.64.0.0/10 (room for
// 16,384 nodes). Hollow nodes register with it, so the node IPAM controller has nothing to do
// for them and the cluster's pod network is left to real nodes.
func hollowPodCIDR(i int) netip.Prefix {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x64400000+uint32(i)<<8)
	return netip.PrefixFrom(netip.AddrFrom4(b), 24)
}

// hollowPodIP derives a stable address in podCIDR (a /24) from the pod's UID.
func hollowPodIP(podCIDR netip.Prefix, uid string) string {
	h := fnv.New32a()
	h.Write([]byte(uid))
	b := podCIDR.Addr().As4()
	b[3] = byte(1 + h.Sum32()%254)
	return netip.AddrFrom4(b).String()
}
