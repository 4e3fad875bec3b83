// Package gossip is Capstan's liveness layer: masters and node agents join one memberlist
// cluster (SWIM with Lifeguard), encrypted with the cluster's gossip key, and publish who they
// are in their member metadata. The Raft leader's node lifecycle controller turns a node's
// death into NotReady without any write from the node; agents learn the masters from it.
package gossip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Roles of members.
const (
	RoleMaster = "master"
	RoleNode   = "node"
)

// Meta is what a member publishes about itself (at most 512 bytes encoded).
type Meta struct {
	Role string `json:"role"`
	// API is a master's API URL.
	API string `json:"api,omitempty"`
	// Kubelet is a node agent's kubelet API address (host:port).
	Kubelet string `json:"kubelet,omitempty"`
	// Leaving is set by a member about to leave on purpose, so the others can tell its
	// departure from a death (memberlist does not say which).
	Leaving bool `json:"leaving,omitempty"`
}

// State is a member's liveness.
type State int

// Member states.
const (
	Alive State = iota
	Dead
	Left
)

func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Member is one member as this member sees it.
type Member struct {
	Name  string
	Addr  string
	Meta  Meta
	State State
	// Since is when this member last saw the state change.
	Since time.Time
}

// Config configures a member.
type Config struct {
	// Name is unique in the cluster: a master's or node's name.
	Name string
	// BindAddr and Port are where to listen (UDP and TCP); Port 0 picks a free one.
	BindAddr string
	Port     int
	// AdvertiseAddr is the IP others reach this member at; empty means BindAddr.
	AdvertiseAddr string
	// Key is the cluster's 32-byte gossip key (AES-256-GCM).
	Key []byte
	// Meta is published to the others.
	Meta Meta
	// ProbeInterval sets the failure detector's pace; with the defaults a dead member is
	// declared within about 4 seconds in small clusters.
	ProbeInterval time.Duration
	// Logger receives memberlist's logs.
	Logger *slog.Logger
}

// DefaultConfig returns Capstan's gossip timing.
func DefaultConfig() Config {
	return Config{BindAddr: "0.0.0.0", Port: 7946, ProbeInterval: 500 * time.Millisecond}
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("gossip: Name is required"))
	}
	if len(c.Key) != 32 {
		errs = append(errs, fmt.Errorf("gossip: Key must be 32 bytes, got %d", len(c.Key)))
	}
	if net.ParseIP(c.BindAddr) == nil {
		errs = append(errs, fmt.Errorf("gossip: BindAddr %q is not an IP", c.BindAddr))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("gossip: Port %d is out of range", c.Port))
	}
	if c.ProbeInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("gossip: ProbeInterval %s is below 10ms", c.ProbeInterval))
	}
	if m, err := json.Marshal(c.Meta); err != nil || len(m) > memberlist.MetaMaxSize {
		errs = append(errs, fmt.Errorf("gossip: Meta encodes to more than %d bytes", memberlist.MetaMaxSize))
	}
	return errors.Join(errs...)
}

// Gossip is a running member.
type Gossip struct {
	ml *memberlist.Memberlist

	metaMu sync.Mutex // protects meta
	meta   []byte

	mu      sync.Mutex // protects members, leaving and subs
	members map[string]*Member
	// leaving holds the members that announced their leave directly to this one.
	leaving map[string]bool
	subs    map[chan Member]struct{}
}

// leaveNotice is the one user message members send: a member about to leave tells the
// masters so, over TCP, before it leaves. The Leaving flag in its metadata travels on
// memberlist's gossip, and memberlist drops that update from its queue when the leave
// itself is queued; the notice is what makes a master see Left rather than Dead.
type leaveNotice struct {
	Leaving string `json:"leaving"`
}

// Start joins nothing yet: it starts the member; call Join with others' addresses.
func Start(cfg Config) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	meta, _ := json.Marshal(cfg.Meta)
	g := &Gossip{meta: meta, members: map[string]*Member{}, leaving: map[string]bool{}, subs: map[chan Member]struct{}{}}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = cfg.BindAddr, cfg.Port
	mc.AdvertisePort = cfg.Port
	if cfg.AdvertiseAddr != "" {
		mc.AdvertiseAddr = cfg.AdvertiseAddr
	}
	mc.SecretKey = cfg.Key
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeInterval / 2
	mc.GossipInterval = cfg.ProbeInterval / 2
	// Lifeguard starts a suspicion at its maximum and shortens it as others confirm; in a
	// small cluster few can confirm, so the maximum is kept close to the minimum
	// (3 x probe interval): a dead member is declared within about 4 seconds.
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = 3, 2
	mc.PushPullInterval = 15 * time.Second
	mc.Delegate = &delegate{g: g}
	mc.Events = &events{g: g}
	if cfg.Logger != nil {
		mc.Logger = log.New(&logWriter{l: cfg.Logger}, "", 0)
	} else {
		mc.LogOutput = io.Discard
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: start on %s:%d: %w", cfg.BindAddr, cfg.Port, err)
	}
	g.ml = ml
	return g, nil
}

// Addr returns the address others join this member at.
func (g *Gossip) Addr() string {
	n := g.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Join contacts the given members (host:port) and returns how many answered.
func (g *Gossip) Join(addrs []string) (int, error) { return g.ml.Join(addrs) }

// Members returns every member this member knows of, itself included.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, *m)
	}
	return out
}

// Member returns one member.
func (g *Gossip) Member(name string) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.members[name]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// Subscribe returns a channel of member changes and a function that ends the subscription.
// The channel is buffered; a subscriber that falls behind loses changes and must reconcile
// with Members.
func (g *Gossip) Subscribe() (<-chan Member, func()) {
	ch := make(chan Member, 256)
	g.mu.Lock()
	g.subs[ch] = struct{}{}
	g.mu.Unlock()
	return ch, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, ok := g.subs[ch]; ok {
			delete(g.subs, ch)
			close(ch)
		}
	}
}

// Leave tells the others this member is going away on purpose, then stops it. Masters are
// told directly (over TCP, each within timeout), so they see it as Left whatever order
// gossip delivers things in; the other members learn it from its gossiped metadata, which
// can lose the race with the leave itself, in which case they see it as Dead.
func (g *Gossip) Leave(timeout time.Duration) error {
	var meta Meta
	g.metaMu.Lock()
	_ = json.Unmarshal(g.meta, &meta)
	meta.Leaving = true
	g.meta, _ = json.Marshal(meta)
	g.metaMu.Unlock()
	_ = g.ml.UpdateNode(timeout)
	g.tellMasters(timeout)
	err := g.ml.Leave(timeout)
	if serr := g.ml.Shutdown(); err == nil {
		err = serr
	}
	return err
}

// tellMasters sends the leave notice to every live master but this one, in parallel, and
// returns when all have been sent or timeout has passed. A send still in flight then ends
// on memberlist's TCP timeout or when the member shuts down.
func (g *Gossip) tellMasters(timeout time.Duration) {
	notice, _ := json.Marshal(leaveNotice{Leaving: g.ml.LocalNode().Name})
	self := g.ml.LocalNode().Name
	var wg sync.WaitGroup
	for _, n := range g.ml.Members() {
		var meta Meta
		if n.Name == self || json.Unmarshal(n.Meta, &meta) != nil || meta.Role != RoleMaster {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = g.ml.SendReliable(n, notice) // best effort: without it the master sees Dead
		}()
	}
	sent := make(chan struct{})
	go func() {
		wg.Wait()
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(timeout):
	}
}

// Close stops the member without saying goodbye (the others will find it dead).
func (g *Gossip) Close() error { return g.ml.Shutdown() }

// change is what memberlist reported about a member.
type change int

const (
	joined  change = iota // new, or back after being gone
	updated               // its metadata changed
	gone                  // dead or left
)

// update records a member's new state and tells the subscribers. A member that gossip
// reports gone is Left if it said so, in its metadata or in a notice, and Dead otherwise.
func (g *Gossip) update(n *memberlist.Node, c change) {
	var meta Meta
	_ = json.Unmarshal(n.Meta, &meta)
	m := Member{Name: n.Name, Addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), Meta: meta, Since: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case c == joined:
		m.State = Alive
		delete(g.leaving, n.Name) // a member back after leaving starts afresh
	case c == updated:
		m.State = Alive
	case meta.Leaving || g.leaving[n.Name]:
		m.State = Left
	default:
		m.State = Dead
	}
	g.set(m)
}

// noticed records a member's leave notice; a member already seen gone becomes Left.
func (g *Gossip) noticed(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaving[name] = true
	if old, ok := g.members[name]; ok && old.State == Dead {
		m := *old
		m.State, m.Since = Left, time.Now()
		g.set(m)
	}
}

// set stores m and tells the subscribers; g.mu is held.
func (g *Gossip) set(m Member) {
	if old, ok := g.members[m.Name]; ok && old.State == m.State {
		m.Since = old.Since
	}
	g.members[m.Name] = &m
	for ch := range g.subs {
		select {
		case ch <- m:
		default: // the subscriber fell behind; it reconciles with Members
		}
	}
}

// events receives memberlist's membership changes.
type events struct{ g *Gossip }

func (e *events) NotifyJoin(n *memberlist.Node)   { e.g.update(n, joined) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.g.update(n, updated) }
func (e *events) NotifyLeave(n *memberlist.Node)  { e.g.update(n, gone) }

// delegate publishes the member's metadata and receives leave notices.
type delegate struct{ g *Gossip }

func (d *delegate) NodeMeta(int) []byte {
	d.g.metaMu.Lock()
	defer d.g.metaMu.Unlock()
	return d.g.meta
}

func (d *delegate) NotifyMsg(b []byte) {
	var n leaveNotice
	if json.Unmarshal(b, &n) == nil && n.Leaving != "" {
		d.g.noticed(n.Leaving)
	}
}

func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d *delegate) LocalState(bool) []byte          { return nil }
func (d *delegate) MergeRemoteState([]byte, bool)   {}

// logWriter sends memberlist's log lines to slog at debug level, errors at warn.
type logWriter struct{ l *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	level := slog.LevelDebug
	if len(msg) > 7 && (msg[:7] == "[ERR] m" || msg[:7] == "[WARN] ") {
		level = slog.LevelWarn
	}
	w.l.Log(context.Background(), level, msg, "component", "gossip")
	return len(p), nil
}
