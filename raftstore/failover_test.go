package raftstore

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestVoterRank(t *testing.T) {
	conf := raft.Configuration{Servers: []raft.Server{
		{ID: "m2", Suffrage: raft.Voter},
		{ID: "m0", Suffrage: raft.Voter},
		{ID: "m3", Suffrage: raft.Nonvoter},
		{ID: "m1", Suffrage: raft.Voter},
		{ID: "m4", Suffrage: raft.Voter},
	}}
	for _, tc := range []struct {
		self, dead raft.ServerID
		rank       int
		ok         bool
	}{
		{"m1", "m0", 0, true},
		{"m2", "m0", 1, true},
		{"m4", "m0", 2, true},
		{"m0", "m1", 0, true},
		{"m2", "m1", 1, true},
		{"m3", "m0", -1, false}, // a non-voter does not stand
		{"m0", "m0", -1, false}, // the dead leader itself
		{"m9", "m0", -1, false}, // not a member
	} {
		rank, ok := voterRank(conf, tc.self, tc.dead)
		if rank != tc.rank || ok != tc.ok {
			t.Errorf("voterRank(self %s, dead %s) = %d, %v; want %d, %v", tc.self, tc.dead, rank, ok, tc.rank, tc.ok)
		}
	}
}

func TestPeerGone(t *testing.T) {
	listen := func(t *testing.T, onAccept func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() { // ends when the listener closes
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				onAccept(c)
			}
		}()
		return l.Addr().String()
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name string
		addr string
		gone bool
	}{
		{"nothing listens", closedAddr, true},
		{"accepted and closed at once, like a proxy without backend", listen(t, func(c net.Conn) { c.Close() }), true},
		{"accepted and waiting for the dialer, like a live member", listen(t, func(c net.Conn) {
			go func() { // waits for the dialer, which closes the connection
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}), false},
	} {
		if got := peerGone(tc.addr, 500*time.Millisecond); got != tc.gone {
			t.Errorf("%s: peerGone = %v, want %v", tc.name, got, tc.gone)
		}
	}
}

// TestFastFailoverAfterLeaderDeath kills the leader of three members whose heartbeat timeout
// is a second: the first surviving voter by ID must stand at once, through the fast failover
// path, and win the very next term. The ordinary path could not start an election until a
// heartbeat timeout after the leader's last contact.
func TestFastFailoverAfterLeaderDeath(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, func(cfg *Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
	})
	old := c.waitLeader()
	term := old.raft.CurrentTerm()
	put(t, old, "/before", "v")
	killed := time.Now()
	c.kill(old.NodeID())

	leader := c.waitLeader()
	took := time.Since(killed)
	var want *Store // the survivor with the lowest ID: rank 0
	for _, s := range c.live() {
		if want == nil || s.NodeID() < want.NodeID() {
			want = s
		}
	}
	if leader != want {
		t.Errorf("new leader %s; want %s, the first survivor by ID", leader.NodeID(), want.NodeID())
	}
	if got := leader.raft.CurrentTerm(); got != term+1 {
		t.Errorf("new leader's term %d; want %d (one election, no split vote)", got, term+1)
	}
	if n := testutil.ToFloat64(want.metrics.fastElections); n != 1 {
		t.Errorf("%s stood for %v fast elections; want 1", want.NodeID(), n)
	}
	put(t, leader, "/after", "v")
	t.Logf("new leader %s ready %s after the kill (heartbeat timeout 1s)", leader.NodeID(), took.Round(time.Millisecond))
}
