package raftstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// Fast failover. A follower waits a randomised HeartbeatTimeout to ElectionTimeout without
// contact before it stands for election, and a second follower standing at the same moment
// splits the vote and costs another timeout: after a leader is killed, writes stop for one to
// two seconds at the default 500 ms timeouts. Most leader deaths are process deaths, which a
// follower can tell apart from a slow or cut-off leader: the leader's peer port refuses
// connections (the kernel resets them) while its host answers, a proxy in front of it closes
// them at once, or the process restarted in their place answers that it does not lead
// (leaderGone). failoverLoop watches for that
// and makes the followers stand in turn, at once: the first by rank asks its own Raft for an
// immediate election through a TimeoutNow request, the RPC a leader sends to hand over
// leadership. Such a candidate skips the pre-vote and its vote request carries the
// leadership-transfer flag, so the other followers vote without waiting for their own
// timeouts to forget the dead leader.
//
// Raft's safety does not depend on who stands for election or when: votes still go only to
// candidates whose log is at least as up to date, one per term. A wrong guess (a leader whose
// port refuses while it still leads) costs an election, not data. A leader that is stopped,
// partitioned or slow keeps its port open or does not answer at all, and is left to the
// ordinary timeouts.

// failoverTimings returns how long a follower hears nothing from its leader before it probes
// the leader (leaders send heartbeats every HeartbeatTimeout/10, so two and a half
// heartbeats), how often it checks, and the delay between the turns of successive ranks
// (long enough for the previous rank's election and first heartbeat).
func failoverTimings(heartbeatTimeout time.Duration) (silence, tick, stagger time.Duration) {
	return heartbeatTimeout / 4, heartbeatTimeout / 20, heartbeatTimeout * 2 / 5
}

// deadLeader is a leader, in the term it led, whose death a member saw.
type deadLeader struct {
	id    raft.ServerID
	term  uint64
	since time.Time // when the death was seen
}

// failoverLoop runs until the store closes; see the comment above. Every member that sees
// the death waits for its turn, counted from that moment: rank 0 stands at once, rank 1
// after one stagger, and so on, each only if no other candidate has shown up meanwhile (a
// vote request raises its term, a new leader's heartbeat ends the silence).
func (s *Store) failoverLoop() {
	silence, tick, stagger := failoverTimings(s.cfg.HeartbeatTimeout)
	t := time.NewTicker(tick)
	defer t.Stop()
	var dead deadLeader  // the last death seen
	var stood deadLeader // the death this member last stood for, so one death triggers one election here
	for {
		select {
		case <-s.raftCtx.Done():
			return
		case <-t.C:
		}
		addr, leader, term, ok := s.silentLeader(silence)
		if !ok || (stood.id == leader && stood.term == term) {
			continue
		}
		if dead.id != leader || dead.term != term {
			if !s.leaderGone(leader, addr, tick, stagger) {
				continue
			}
			dead = deadLeader{id: leader, term: term, since: time.Now()}
		}
		rank, voter := s.failoverRank(leader)
		if !voter || time.Since(dead.since) < time.Duration(rank)*stagger {
			continue // not a voter, or not our turn yet
		}
		if _, l, tm, still := s.silentLeader(silence); !still || l != leader || tm != term {
			continue // somebody stood meanwhile, or the leader came back
		}
		stood = dead
		s.log.Warn("the leader's process is gone; standing for election at once",
			"leader", string(leader), "address", string(addr), "term", term, "goneFor", time.Since(dead.since).Round(time.Millisecond), "rank", rank)
		s.metrics.fastElections.Inc()
		if err := s.standNow(); err != nil {
			s.log.Warn("could not stand for election at once; the heartbeat timeout will", "error", err)
		}
	}
}

// silentLeader returns the leader this member follows, and the current term, when this member
// is a follower that has heard from that leader before but not for at least silence.
func (s *Store) silentLeader(silence time.Duration) (raft.ServerAddress, raft.ServerID, uint64, bool) {
	if s.raft.State() != raft.Follower {
		return "", "", 0, false
	}
	addr, leader := s.raft.LeaderWithID()
	term := s.raft.CurrentTerm()
	last := s.raft.LastContact()
	if leader == "" || last.IsZero() || time.Since(last) < silence {
		return "", "", 0, false
	}
	return addr, leader, term, true
}

// leaderGone reports whether the leader this member follows is positively gone: nothing
// listens on its peer port (peerGone), or its process answers that it does not lead (it was
// restarted and has not heard from anyone yet). Silence or an error proves nothing: a stopped,
// slow or cut-off leader is left to the ordinary timeouts.
func (s *Store) leaderGone(id raft.ServerID, addr raft.ServerAddress, dialTimeout, statusTimeout time.Duration) bool {
	if peerGone(string(addr), dialTimeout) {
		return true
	}
	ctx, cancel := context.WithTimeout(s.raftCtx, statusTimeout)
	defer cancel()
	st, err := s.memberStatus(ctx, string(id), string(addr))
	return err == nil && st.ID == string(id) && st.State != raft.Leader.String()
}

// peerGone reports whether nothing listens behind addr: a connection is refused (the host is
// up, the port closed), or it is accepted and closed by the far end, without a word, within
// timeout (a proxy or forwarder whose backend is down). A live member's peer port waits for
// the dialer to speak first, so neither happens while the member runs; a stopped or
// unreachable one does not answer at all.
func peerGone(addr string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	var b [1]byte
	_, err = conn.Read(b[:])
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// failoverRank returns this member's turn among the voters other than the dead leader,
// ordered by ID, and false when this member is not one of them.
func (s *Store) failoverRank(dead raft.ServerID) (int, bool) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, false
	}
	return voterRank(f.Configuration(), raft.ServerID(s.cfg.NodeID), dead)
}

// voterRank returns the position of self among the voters of c other than dead, sorted by
// ID, and false when self is not one of them.
func voterRank(c raft.Configuration, self, dead raft.ServerID) (int, bool) {
	var ids []raft.ServerID
	for _, srv := range c.Servers {
		if srv.Suffrage == raft.Voter && srv.ID != dead {
			ids = append(ids, srv.ID)
		}
	}
	slices.Sort(ids)
	i := slices.Index(ids, self)
	return i, i >= 0
}

// standNow sends this member's Raft a TimeoutNow request through the transport, which makes
// it a candidate at once (see failoverLoop).
func (s *Store) standNow() error {
	self := raft.ServerID(s.cfg.NodeID)
	addr := raft.ServerAddress(s.advertise)
	req := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax,
		ID:              []byte(self),
		Addr:            s.transport.EncodePeer(self, addr),
	}}
	return s.transport.TimeoutNow(self, addr, req, &raft.TimeoutNowResponse{})
}
