package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/capstan-io/capstan/nodeagent/gossip"
	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

// APIServerClientName is the common name of the client certificate the masters' API servers
// present to the kubelet API (apiserver.KubeletClientName); no other client is served.
const APIServerClientName = "capstan-apiserver"

// leaveTimeout bounds saying goodbye to gossip on shutdown.
const leaveTimeout = 3 * time.Second

// Agent is one real node agent.
type Agent struct {
	cfg Config
	log *slog.Logger
}

// New validates cfg and returns an agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{cfg: cfg, log: log.With("node", cfg.Name)}, nil
}

// Run runs the agent, or the hollow nodes when cfg.Hollow is positive, until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Hollow > 0 {
		return RunHollow(ctx, cfg)
	}
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// pkiDir is where a node's identity is kept.
func pkiDir(dataDir string) string { return filepath.Join(dataDir, "pki") }

// loadOrJoin returns the identity saved in dir, or joins through j and saves it, synced to
// disk.
func loadOrJoin(ctx context.Context, dir string, j Joiner, servers []string, name string, servingNames []string) (*identity, error) {
	id, found, err := loadIdentity(dir, name)
	if err != nil || found {
		return id, err
	}
	return joinAndSave(ctx, dir, j, servers, name, servingNames, true)
}

// joinAndSave joins through j and saves the identity in dir.
func joinAndSave(ctx context.Context, dir string, j Joiner, servers []string, name string, servingNames []string, durable bool) (*identity, error) {
	if j == nil || len(servers) == 0 {
		return nil, fmt.Errorf("%w: pass --server and --token for the first start of %s", ErrNoIdentity, name)
	}
	id, err := join(ctx, j, servers, name, servingNames)
	if err != nil {
		return nil, err
	}
	return id, id.save(dir, durable)
}

// loadOrJoinHollow is loadOrJoin for a hollow node: the identity is saved without syncing
// each of its files (RunHollow syncs the file system once all nodes have joined), and an
// identity that does not load (cut short by a crash before that sync) is replaced by joining
// again when a join token was given.
func loadOrJoinHollow(ctx context.Context, dir string, cfg Config, name string, log *slog.Logger) (*identity, error) {
	id, found, err := loadIdentity(dir, name)
	switch {
	case err != nil && cfg.Joiner != nil && len(cfg.Servers) > 0:
		log.Warn("the saved identity of a hollow node does not load; joining again", "node", name, "error", err)
	case err != nil || found:
		return id, err
	}
	return joinAndSave(ctx, dir, cfg.Joiner, cfg.Servers, name, []string{cfg.Advertise, name}, false)
}

// servingNames are the names the kubelet API's certificate is valid for.
func (a *Agent) servingNames(host hostInfo) []string {
	names := []string{a.cfg.Advertise, a.cfg.Name}
	if host.Hostname != "" && host.Hostname != a.cfg.Name {
		names = append(names, host.Hostname)
	}
	return names
}

// Run joins (on the first start), registers the Node, waits for its pod CIDR, starts the
// runtime, the pod manager, the kubelet API, gossip and the status heartbeat, and blocks until
// ctx ends. It then leaves gossip and stops everything but the containers.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	host := readHostInfo(cfg.DataDir)
	dir := pkiDir(cfg.DataDir)
	id, err := loadOrJoin(ctx, dir, cfg.Joiner, cfg.Servers, cfg.Name, a.servingNames(host))
	if err != nil {
		return err
	}
	masters, err := newMasterSet(id.state.Masters, time.Now)
	if err != nil {
		return err
	}
	client, err := newClient(id, masters, "capstan-agent/"+cfg.Name)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.KubeletPort)))
	if err != nil {
		return fmt.Errorf("kubelet API: %w", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	g, err := a.startGossip(id, port)
	if err != nil {
		return err
	}
	defer func() {
		if err := g.Leave(leaveTimeout); err != nil {
			a.log.Warn("could not leave gossip cleanly", "error", err)
		}
	}()

	rep := &reporter{client: client, now: time.Now, every: cfg.reportInterval(), spec: nodeSpec{
		Name: cfg.Name, Advertise: cfg.Advertise, KubeletPort: port, MaxPods: cfg.MaxPods, Host: host, Gossip: true,
	}}
	rep.leases = servesLeases(client)
	node, err := a.registerLoop(ctx, rep, readiness{Message: "container runtime network not ready: waiting for the node's pod CIDR"})
	if err != nil {
		return err
	}
	a.log.Info("node registered", "kubeletPort", port, "masters", masters.urls())

	var wg sync.WaitGroup // every goroutine Run starts; each exits when ctx ends
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.followMasters(ctx, g, id, masters)
	}()

	podCIDR, err := a.waitPodCIDR(ctx, client, node)
	if err != nil {
		return err
	}
	rt, closeRuntime, err := a.startRuntime(ctx, podCIDR)
	if err != nil {
		return err
	}
	defer closeRuntime()
	name, version, err := rt.Version(ctx)
	if err != nil {
		return err
	}
	rep.setRuntime(name + "://" + version)
	if cfg.ImportTestImage {
		names, err := testimage.Import(ctx, rt, testimage.Options{})
		if err != nil {
			return fmt.Errorf("import the test image: %w", err)
		}
		a.log.Info("imported the test image", "images", names)
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.Name})

	pm, err := a.newPods(client, rt, recorder, host)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := pm.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("pod manager stopped", "error", err)
			cancel()
		}
	}()
	factory := a.watchPods(ctx, client, pm)
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), factory.Core().V1().Pods().Informer().HasSynced) {
		return ctx.Err()
	}
	pm.SetSourcesReady()

	srv, err := kubeletapi.New(a.kubeletConfig(id, rt, pm))
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("kubelet API stopped", "error", err)
			cancel()
		}
	}()

	ready := a.readiness(ctx, rt)
	if err := rep.updateStatus(ctx, ready); err != nil {
		a.log.Warn("could not update the node status", "error", err)
	}
	// Watch the Node's own Ready condition: when someone else changes it (the node lifecycle
	// controller while gossip lost this node), the status is written again at once.
	kick := make(chan struct{}, 1)
	nodeFactory := watchNodes(ctx, client, func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + cfg.Name }, func(n *corev1.Node) {
		if n.Name == cfg.Name && rep.observe(n) {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	defer nodeFactory.Shutdown()
	a.log.Info("node agent running", "podCIDR", podCIDR, "runtime", name+"://"+version, "statusReportInterval", rep.every)
	a.statusLoop(ctx, rep, node, rt, ready, kick)
	a.log.Info("node agent stopping")
	return nil
}

// registerLoop registers the Node, retrying until it succeeds or ctx ends.
func (a *Agent) registerLoop(ctx context.Context, rep *reporter, ready readiness) (*corev1.Node, error) {
	for attempt := 0; ; attempt++ {
		node, err := rep.register(ctx, ready)
		if err == nil {
			return node, nil
		}
		if attempt%10 == 0 {
			a.log.Warn("could not register the node yet", "error", err)
		}
		if !sleepCtx(ctx, time.Second) {
			return nil, fmt.Errorf("register node %s: %w", a.cfg.Name, ctx.Err())
		}
	}
}

// waitPodCIDR waits until the node IPAM controller has given the Node a pod CIDR.
func (a *Agent) waitPodCIDR(ctx context.Context, client kubernetes.Interface, node *corev1.Node) (string, error) {
	for attempt := 0; ; attempt++ {
		if node != nil && node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		if attempt%40 == 1 {
			a.log.Info("waiting for the node's pod CIDR (spec.podCIDR, set by the node IPAM controller)")
		}
		if !sleepCtx(ctx, 250*time.Millisecond) {
			return "", fmt.Errorf("wait for node %s's pod CIDR: %w", a.cfg.Name, ctx.Err())
		}
		cctx, cancel := context.WithTimeout(ctx, requestTimeout)
		n, err := client.CoreV1().Nodes().Get(cctx, a.cfg.Name, metav1.GetOptions{})
		cancel()
		if err == nil {
			node = n
		}
	}
}

// startRuntime starts the private containerd unless an address was given and connects the
// runtime with the pod network on podCIDR. The returned function closes the runtime and the
// private daemon; running containers survive both.
func (a *Agent) startRuntime(ctx context.Context, podCIDR string) (runtime.Runtime, func(), error) {
	rc := a.runtimeConfig(podCIDR)
	var daemon *runtime.Daemon
	if rc.Address == "" {
		d, err := runtime.StartDaemon(ctx, filepath.Join(a.cfg.DataDir, "containerd"))
		if err != nil {
			return nil, nil, err
		}
		daemon, rc.Address = d, d.Address()
	}
	rt, err := runtime.New(ctx, rc)
	if err != nil {
		if daemon != nil {
			daemon.Close()
		}
		return nil, nil, err
	}
	return rt, func() {
		rt.Close()
		if daemon != nil {
			daemon.Close()
		}
	}, nil
}

// runtimeConfig completes the runtime configuration for this node.
func (a *Agent) runtimeConfig(podCIDR string) runtime.Config {
	rc := a.cfg.Runtime
	rc.Address = a.cfg.ContainerdAddress
	rc.StateDir = filepath.Join(a.cfg.DataDir, "runtime")
	if rc.NetNSDir == "" {
		rc.NetNSDir = filepath.Join("/run/capstan", a.cfg.Name, "netns")
	}
	if rc.CgroupParent == "" {
		rc.CgroupParent = "/capstan/" + a.cfg.Name
	}
	rc.Network.Subnet = podCIDR
	return rc
}

// kubeletConfig returns the kubelet API's configuration: the node's serving certificate and
// mutual TLS that admits only the API servers' client certificate.
func (a *Agent) kubeletConfig(id *identity, rt runtime.Runtime, pods kubeletapi.Pods) kubeletapi.Config {
	kc := kubeletapi.DefaultConfig()
	kc.Runtime, kc.Pods, kc.Logger = rt, pods, a.log.With("component", "kubelet-api")
	cert, _ := tls.X509KeyPair(id.servingCert, id.servingKey) // checked at join
	kc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientCAs: id.caPool(), ClientAuth: tls.RequireAndVerifyClientCert}
	kc.Authorize = authorizeAPIServer
	return kc
}

// authorizeAPIServer admits requests whose verified client certificate is the API servers'.
func authorizeAPIServer(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("the kubelet API requires a client certificate signed by the cluster CA")
	}
	if cn := r.TLS.PeerCertificates[0].Subject.CommonName; cn != APIServerClientName {
		return fmt.Errorf("client %q may not use the kubelet API; only %q may", cn, APIServerClientName)
	}
	return nil
}

// watchPods starts an informer on the pods bound to this node and feeds pm. The factory's
// goroutines exit when ctx ends; Shutdown waits for them.
func (a *Agent) watchPods(ctx context.Context, client kubernetes.Interface, pm podSink) informers.SharedInformerFactory {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName=" + a.cfg.Name
	}))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { syncPod(pm, obj) },
		UpdateFunc: func(_, obj any) { syncPod(pm, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				pm.Remove(pod.UID)
			}
		},
	})
	factory.Start(ctx.Done())
	return factory
}

func syncPod(pm podSink, obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		pm.Sync(pod)
	}
}

// readiness asks the runtime whether it answers.
func (a *Agent) readiness(ctx context.Context, rt runtime.Runtime) readiness {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := rt.Version(cctx); err != nil {
		return readiness{Message: fmt.Sprintf("container runtime is down: %v", err)}
	}
	return readiness{Ready: true}
}

// statusLoop checks the node's readiness and renews its Lease every StatusInterval, and
// writes the Node's status when the status policy says so (reporter.due): at once when the
// readiness changes or kick says the stored Ready condition was overwritten, otherwise once
// every status report interval. It returns when ctx ends.
func (a *Agent) statusLoop(ctx context.Context, rep *reporter, node *corev1.Node, rt runtime.Runtime, r readiness, kick <-chan struct{}) {
	t := time.NewTicker(a.cfg.StatusInterval)
	defer t.Stop()
	for {
		if err := rep.renewLease(ctx, node, 4*a.cfg.StatusInterval); err != nil && ctx.Err() == nil {
			a.log.Debug("could not renew the node lease", "error", err)
		}
		for ticked := false; !ticked; {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				if why, err := rep.sync(ctx, r); err != nil && ctx.Err() == nil {
					a.log.Warn("could not post the node status", "error", err)
				} else if why != "" {
					a.log.Info("posted the node status", "why", why)
				}
			case <-t.C:
				ticked = true
			}
		}
		now := a.readiness(ctx, rt)
		if now.Ready != r.Ready {
			a.log.Warn("node readiness changed", "ready", now.Ready, "message", now.Message)
		}
		r = now
		why, err := rep.sync(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("could not post the node status", "error", err)
		case why != "" && why != duePeriodic:
			a.log.Info("posted the node status", "why", why)
		}
	}
}

// startGossip joins the cluster's gossip with the node's metadata.
func (a *Agent) startGossip(id *identity, kubeletPort int) (*gossip.Gossip, error) {
	key, err := id.gossipKey()
	if err != nil {
		return nil, err
	}
	gc := gossip.DefaultConfig()
	gc.Name, gc.BindAddr, gc.Port, gc.AdvertiseAddr = a.cfg.Name, a.cfg.BindAddress, a.cfg.GossipPort, a.cfg.Advertise
	gc.Key, gc.Logger = key, a.log
	gc.Meta = gossip.Meta{Role: gossip.RoleNode, Kubelet: net.JoinHostPort(a.cfg.Advertise, strconv.Itoa(kubeletPort))}
	g, err := gossip.Start(gc)
	if err != nil {
		return nil, err
	}
	if len(id.state.GossipPeers) > 0 {
		if _, err := g.Join(id.state.GossipPeers); err != nil {
			a.log.Warn("could not reach the masters' gossip yet", "peers", id.state.GossipPeers, "error", err)
		}
	}
	return g, nil
}

// followMasters keeps the masters list current from gossip (masters publish their API URL)
// and rejoins the masters' gossip when no master is seen alive. It returns when ctx ends.
func (a *Agent) followMasters(ctx context.Context, g *gossip.Gossip, id *identity, masters *masterSet) {
	changes, stop := g.Subscribe()
	defer stop()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	dir := pkiDir(a.cfg.DataDir)
	for {
		changed := false
		alive := 0
		var peers []string
		for _, m := range g.Members() {
			if m.Meta.Role != gossip.RoleMaster {
				continue
			}
			peers = append(peers, m.Addr)
			if m.State == gossip.Alive {
				alive++
				if m.Meta.API != "" && masters.add(m.Meta.API) {
					changed = true
				}
			}
		}
		if changed {
			id.state.Masters = masters.urls()
			if err := id.saveState(dir); err != nil {
				a.log.Warn("could not save the masters list", "error", err)
			}
			a.log.Info("masters changed", "masters", id.state.Masters)
		}
		if alive == 0 {
			if _, err := g.Join(append(peers, id.state.GossipPeers...)); err != nil {
				a.log.Debug("no master answers on gossip", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-t.C:
		}
	}
}
