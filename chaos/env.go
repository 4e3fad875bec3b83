package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/chaos/fault"
	"github.com/capstan-io/capstan/chaos/firewall"
	"github.com/capstan-io/capstan/chaos/history"
	"github.com/capstan-io/capstan/chaos/proxy"
	"github.com/capstan-io/capstan/chaos/workload"
)

// slot is one place in the cluster; a replacement master takes its predecessor's slot.
type slot struct {
	index   int
	name    string
	m       *cluster.Master
	rest    *rest.Config
	removed bool
}

// ports are a master's ports as the run assigned them.
type ports struct {
	peer, proxy, gossip int
}

// env is the running cluster as the faults and the workload see it.
type env struct {
	cfg  Config
	cl   *cluster.Cluster
	mesh *proxy.Mesh
	fw   *firewall.Firewall
	disk *tmpfsDisk
	// agents is nil when the run has no node agents.
	agents *agentSet
	rec    *history.Recorder
	rng    *rand.Rand

	mu    sync.Mutex // protects slots, ports and next
	slots []*slot
	ports map[string]ports
	next  int
}

var (
	_ fault.Target     = (*env)(nil)
	_ workload.Cluster = (*env)(nil)
)

func (e *env) logf(format string, args ...any) {
	if e.cfg.Logf != nil {
		e.cfg.Logf(format, args...)
	}
}

// assignPorts picks a master's bound peer port and gossip port and starts its peer proxy.
func (e *env) assignPorts(name string) error {
	peer, err := cluster.FreePort()
	if err != nil {
		return err
	}
	gossip, err := cluster.FreePort()
	if err != nil {
		return err
	}
	addr, err := e.mesh.Add(name, "127.0.0.1:0", net127(peer))
	if err != nil {
		return err
	}
	_, p, _ := splitPort(addr)
	e.mu.Lock()
	e.ports[name] = ports{peer: peer, proxy: p, gossip: gossip}
	e.mu.Unlock()
	return nil
}

func net127(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func splitPort(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return "", 0, fmt.Errorf("no port in %q", addr)
}

// masterArgs are the flags that put a master behind its proxy.
func (e *env) masterArgs(name string) []string {
	e.mu.Lock()
	p := e.ports[name]
	e.mu.Unlock()
	return []string{"--peer-port", strconv.Itoa(p.peer), "--advertise-peer-port", strconv.Itoa(p.proxy), "--gossip-port", strconv.Itoa(p.gossip)}
}

// pids maps the running masters' PIDs to names, for the proxies' resolver.
func (e *env) pids() map[int]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[int]string{}
	for _, s := range e.slots {
		if pid := s.m.PID(); pid != 0 {
			out[pid] = s.name
		}
	}
	return out
}

func (e *env) restConfig(m *cluster.Master) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags(m.URL(), e.cl.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = -1, 1000, "capstan-chaos"
	return cfg, nil
}

// addSlots makes a slot of every launched master.
func (e *env) addSlots() error {
	for i, m := range e.cl.Masters {
		rc, err := e.restConfig(m)
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.slots = append(e.slots, &slot{index: i, name: m.Name, m: m, rest: rc})
		e.mu.Unlock()
	}
	return nil
}

func (e *env) slotOf(name string) (*slot, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.slots {
		if s.name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no master %s", name)
}

func running(m *cluster.Master) bool { return m.PID() != 0 && !m.Exited() }

// Endpoints implements workload.Cluster.
func (e *env) Endpoints() []workload.Endpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]workload.Endpoint, 0, len(e.slots))
	for _, s := range e.slots {
		out = append(out, workload.Endpoint{Slot: s.index, Name: s.name, Config: s.rest, Up: !s.removed && running(s.m)})
	}
	return out
}

// Now implements fault.Target.
func (e *env) Now() int64 { return e.rec.Now() }

// Rand implements fault.Target.
func (e *env) Rand() *rand.Rand { return e.rng }

// Logf implements fault.Target.
func (e *env) Logf(format string, args ...any) { e.logf(format, args...) }

// Masters implements fault.Target.
func (e *env) Masters() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, s := range e.slots {
		if !s.removed && running(s.m) {
			out = append(out, s.name)
		}
	}
	sort.Strings(out)
	return out
}

// Leader implements fault.Target: it asks each running master, briefly, whom it follows.
func (e *env) Leader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		for _, name := range e.Masters() {
			s, err := e.slotOf(name)
			if err != nil {
				continue
			}
			cl, err := e.cl.Client(s.m)
			if err != nil {
				return "", err
			}
			hctx, hcancel := context.WithTimeout(ctx, time.Second)
			h, err := cl.Health(hctx)
			hcancel()
			if err == nil && h.Leader != "" {
				return h.Leader, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no master reports a leader: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling interval
		}
	}
}

// Kill implements fault.Target.
func (e *env) Kill(_ context.Context, name string) error {
	s, err := e.slotOf(name)
	if err != nil {
		return err
	}
	return e.cl.Kill(s.m)
}

// Stop implements fault.Target.
func (e *env) Stop(_ context.Context, name string) error {
	s, err := e.slotOf(name)
	if err != nil {
		return err
	}
	return e.cl.Stop(s.m)
}

// Signal implements fault.Target.
func (e *env) Signal(name string, sig syscall.Signal) error {
	s, err := e.slotOf(name)
	if err != nil {
		return err
	}
	return s.m.Signal(sig)
}

// Restart implements fault.Target.
func (e *env) Restart(ctx context.Context, name string) error {
	s, err := e.slotOf(name)
	if err != nil {
		return err
	}
	if running(s.m) {
		return nil
	}
	if s.m.PID() != 0 {
		_ = e.cl.Kill(s.m) // reap a crashed process's bookkeeping
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return e.cl.Restart(ctx, s.m)
}

// Running implements fault.Target.
func (e *env) Running(name string) bool {
	s, err := e.slotOf(name)
	return err == nil && running(s.m)
}

// TransferLeadership implements fault.Target.
func (e *env) TransferLeadership(ctx context.Context, to string) (string, error) {
	leader, err := e.Leader(ctx)
	if err != nil {
		return "", err
	}
	s, err := e.slotOf(leader)
	if err != nil {
		return "", err
	}
	cl, err := e.cl.Client(s.m)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cl.TransferLeadership(ctx, to)
}

// RemoveMember implements fault.Target: the removal goes through another master, then the
// removed master's process is stopped.
func (e *env) RemoveMember(ctx context.Context, name string) error {
	victim, err := e.slotOf(name)
	if err != nil {
		return err
	}
	var last error
	for _, other := range e.Masters() {
		if other == name {
			continue
		}
		s, err := e.slotOf(other)
		if err != nil {
			continue
		}
		cl, err := e.cl.Client(s.m)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		last = cl.RemoveMember(rctx, name, false)
		cancel()
		if last == nil {
			break
		}
	}
	if last != nil {
		return fmt.Errorf("remove %s: %w", name, last)
	}
	e.mu.Lock()
	victim.removed = true
	e.mu.Unlock()
	return e.cl.Kill(victim.m)
}

// AddMaster implements fault.Target: a new master with a new name takes the slot of a removed
// one, joins, and is waited for until every slot has a healthy voter.
func (e *env) AddMaster(ctx context.Context) (string, error) {
	e.mu.Lock()
	var free *slot
	for _, s := range e.slots {
		if s.removed {
			free = s
			break
		}
	}
	e.next++
	name := fmt.Sprintf("m%d", e.next)
	voters := len(e.slots)
	e.mu.Unlock()
	if free == nil {
		return "", errors.New("no removed master to replace")
	}
	if err := e.assignPorts(name); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	m, err := e.cl.Add(ctx, name)
	if err != nil {
		return name, err
	}
	rc, err := e.restConfig(m)
	if err != nil {
		return name, err
	}
	e.mu.Lock()
	free.name, free.m, free.rest, free.removed = name, m, rc, false
	e.mu.Unlock()
	return name, e.cl.WaitHealthy(ctx, voters)
}

// Revision implements fault.Target with a consistent list of one object.
func (e *env) Revision(ctx context.Context) (uint64, error) {
	var last error
	for _, ep := range e.Endpoints() {
		if !ep.Up {
			continue
		}
		cs, err := kubernetes.NewForConfig(ep.Config)
		if err != nil {
			return 0, err
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		list, err := cs.CoreV1().ConfigMaps(e.cfg.Workload.Namespace).List(rctx, metav1.ListOptions{Limit: 1})
		cancel()
		if err == nil {
			return strconv.ParseUint(list.ResourceVersion, 10, 64)
		}
		last = err
	}
	if last == nil {
		last = workload.ErrNoMaster
	}
	return 0, last
}

// LogFile implements fault.Target.
func (e *env) LogFile(name string) string {
	s, err := e.slotOf(name)
	if err != nil {
		return ""
	}
	return filepath.Join(s.m.DataDir, "server.log")
}

// GossipPort implements fault.Target.
func (e *env) GossipPort(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ports[name].gossip
}

// Network implements fault.Target.
func (e *env) Network() fault.Network { return e.mesh }

// Firewall implements fault.Target.
func (e *env) Firewall() fault.Firewall {
	if e.fw == nil {
		return nil
	}
	return e.fw
}

// Disk implements fault.Target.
func (e *env) Disk() (fault.Disk, bool) {
	if e.disk == nil {
		return nil, false
	}
	return e.disk, true
}

// Agents implements fault.Target; it is nil (agent faults are skipped) when the run has no
// node agents.
func (e *env) Agents() fault.Agents {
	if e.agents == nil {
		return nil
	}
	return e.agents
}

// waitHealthy waits until a leader and every slot's voter are healthy.
func (e *env) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	e.mu.Lock()
	voters := len(e.slots)
	e.mu.Unlock()
	return e.cl.WaitHealthy(ctx, voters)
}
