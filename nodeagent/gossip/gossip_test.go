package gossip

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// startMembers starts n members joined to the first, which is a master.
func startMembers(t *testing.T, n int) []*Gossip {
	t.Helper()
	key := make([]byte, 32)
	var out []*Gossip
	for i := 0; i < n; i++ {
		cfg := DefaultConfig()
		cfg.Name, cfg.BindAddr, cfg.Port, cfg.Key = fmt.Sprintf("g%d", i), "127.0.0.1", 0, key
		cfg.Meta = Meta{Role: RoleNode, Kubelet: fmt.Sprintf("127.0.0.1:%d", 10250+i)}
		if i == 0 {
			cfg.Meta = Meta{Role: RoleMaster, API: "https://127.0.0.1:6443"}
		}
		g, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
		if i > 0 {
			if _, err := g.Join([]string{out[0].Addr()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func waitState(t *testing.T, g *Gossip, name string, want State, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if m, ok := g.Member(name); ok && m.State == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			m, _ := g.Member(name)
			t.Fatalf("%s sees %s as %s after %s; want %s", g.ml.LocalNode().Name, name, m.State, within, want)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

func TestMembersSeeEachOtherAndDeaths(t *testing.T) {
	ms := startMembers(t, 4)
	defer func() {
		for _, g := range ms[:2] {
			g.Close()
		}
	}()
	for _, g := range ms {
		for _, other := range ms {
			waitState(t, g, other.ml.LocalNode().Name, Alive, 10*time.Second)
		}
	}
	if m, _ := ms[0].Member("g2"); m.Meta.Kubelet != "127.0.0.1:10252" || m.Meta.Role != RoleNode {
		t.Errorf("g2's metadata = %+v", m.Meta)
	}
	ms[2].Close() // crash: no goodbye
	took := waitState(t, ms[0], "g2", Dead, 10*time.Second)
	t.Logf("g2 declared dead after %s", took)
	if took > 5*time.Second {
		t.Errorf("a dead member took %s to be declared dead; want at most 5s", took)
	}
	if err := ms[3].Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	waitState(t, ms[0], "g3", Left, 10*time.Second)
}

// TestGoneMemberState covers every order in which a master can hear of a member going: the
// gossiped Leaving flag and the direct notice each make it Left, whichever comes first, and
// a member that comes back after leaving is judged afresh.
func TestGoneMemberState(t *testing.T) {
	node := func(leaving bool) *memberlist.Node {
		meta, _ := json.Marshal(Meta{Role: RoleNode, Leaving: leaving})
		return &memberlist.Node{Name: "n1", Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: meta}
	}
	notice := func(g *Gossip) { (&delegate{g: g}).NotifyMsg([]byte(`{"leaving":"n1"}`)) }
	tests := []struct {
		name  string
		steps func(g *Gossip, e *events)
		want  State
	}{
		{"crash", func(g *Gossip, e *events) { e.NotifyJoin(node(false)); e.NotifyLeave(node(false)) }, Dead},
		{"flag gossiped before the leave", func(g *Gossip, e *events) {
			e.NotifyJoin(node(false))
			e.NotifyUpdate(node(true))
			e.NotifyLeave(node(true))
		}, Left},
		{"notice before the leave", func(g *Gossip, e *events) {
			e.NotifyJoin(node(false))
			notice(g)
			e.NotifyLeave(node(false))
		}, Left},
		{"notice after the leave", func(g *Gossip, e *events) {
			e.NotifyJoin(node(false))
			e.NotifyLeave(node(false))
			notice(g)
		}, Left},
		{"notice, then the flag, then the leave", func(g *Gossip, e *events) {
			e.NotifyJoin(node(false))
			notice(g)
			e.NotifyUpdate(node(true))
			e.NotifyLeave(node(true))
		}, Left},
		{"back after leaving, then crashed", func(g *Gossip, e *events) {
			e.NotifyJoin(node(false))
			notice(g)
			e.NotifyLeave(node(false))
			e.NotifyJoin(node(false))
			e.NotifyLeave(node(false))
		}, Dead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Gossip{members: map[string]*Member{}, leaving: map[string]bool{}, subs: map[chan Member]struct{}{}}
			tt.steps(g, &events{g: g})
			if m, _ := g.Member("n1"); m.State != tt.want {
				t.Errorf("n1 is %s; want %s", m.State, tt.want)
			}
		})
	}
}

func TestWrongKeyCannotJoin(t *testing.T) {
	ms := startMembers(t, 1)
	defer ms[0].Close()
	cfg := DefaultConfig()
	cfg.Name, cfg.BindAddr, cfg.Port, cfg.Key = "intruder", "127.0.0.1", 0, []byte("0123456789abcdef0123456789abcdef")
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n, err := g.Join([]string{ms[0].Addr()}); err == nil && n > 0 {
		t.Errorf("a member with another key joined (%d answered)", n)
	}
	if _, ok := ms[0].Member("intruder"); ok {
		t.Error("the intruder is listed")
	}
}
