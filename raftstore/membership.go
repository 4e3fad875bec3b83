package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Reserved keys. Callers must not write under SystemPrefix.
const (
	// SystemPrefix holds the store's own records.
	SystemPrefix = "/capstan/raft/"
	// removedPrefix marks member IDs that were removed and may never be reused.
	removedPrefix = SystemPrefix + "removed/"
	// nonvoterPrefix marks non-voters that autopilot must not promote (demoted by an operator).
	nonvoterPrefix = SystemPrefix + "nonvoter/"
)

// MemberStatus is what a member reports about itself.
type MemberStatus struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	// State is Leader, Follower, Candidate or Shutdown.
	State string `json:"state"`
	Term  uint64 `json:"term"`
	// LeaderID is the leader this member follows, empty when it knows none.
	LeaderID    string `json:"leaderID,omitempty"`
	LastIndex   uint64 `json:"lastIndex"`
	CommitIndex uint64 `json:"commitIndex"`
	// AppliedIndex is the revision of the state this member serves.
	AppliedIndex uint64 `json:"appliedIndex"`
	// LastContact is the time since this member last heard from the leader; 0 on the leader.
	LastContact time.Duration `json:"lastContact"`
	// Halted is set when the state machine stopped applying (see ErrHalted).
	Halted bool `json:"halted,omitempty"`
}

// LocalStatus returns this member's own status.
func (s *Store) LocalStatus() MemberStatus {
	leaderAddr, leaderID := s.raft.LeaderWithID()
	_ = leaderAddr
	st := MemberStatus{
		ID:           s.cfg.NodeID,
		Address:      s.advertise,
		State:        s.raft.State().String(),
		Term:         s.raft.CurrentTerm(),
		LeaderID:     string(leaderID),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.fsm.revision(),
	}
	if s.raft.State() != raft.Leader {
		if lc := s.raft.LastContact(); !lc.IsZero() {
			st.LastContact = time.Since(lc)
		} else {
			st.LastContact = -1
		}
	}
	return st
}

// Member is one entry of the Raft configuration with its health as seen now.
type Member struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
	// Healthy is set when the member answered, is not halted, follows the current term's
	// leader and trails it by no more than the autopilot's MaxTrailingLogs.
	Healthy bool `json:"healthy"`
	// Lag is how many entries the member's applied index trails the leader's commit index.
	Lag uint64 `json:"lag"`
	// Status is the member's own report; nil when it could not be reached.
	Status *MemberStatus `json:"status,omitempty"`
	// Error says why the member could not be reached.
	Error string `json:"error,omitempty"`
}

// statusTimeout bounds asking one member for its status.
const statusTimeout = time.Second

// Members lists the members of the current configuration with their status, asking each one.
func (s *Store) Members(ctx context.Context) ([]Member, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raftstore: read configuration: %w", err)
	}
	_, leaderID := s.raft.LeaderWithID()
	servers := f.Configuration().Servers
	members := make([]Member, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		members[i] = Member{ID: string(srv.ID), Address: string(srv.Address), Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leaderID}
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			st, err := s.memberStatus(ctx, m.ID, m.Address)
			if err != nil {
				m.Error = err.Error()
				return
			}
			m.Status = &st
		}(&members[i])
	}
	wg.Wait()
	var leader *MemberStatus
	for _, m := range members {
		if m.Leader && m.Status != nil && m.Status.State == raft.Leader.String() {
			leader = m.Status
		}
	}
	for i := range members {
		m := &members[i]
		if m.Status == nil || leader == nil {
			continue
		}
		if leader.CommitIndex > m.Status.AppliedIndex {
			m.Lag = leader.CommitIndex - m.Status.AppliedIndex
		}
		m.Healthy = !m.Status.Halted && m.Status.Term == leader.Term &&
			(m.Leader || (m.Status.LastContact >= 0 && m.Status.LastContact <= s.cfg.HeartbeatTimeout*2)) &&
			m.Lag <= s.cfg.Autopilot.MaxTrailingLogs
	}
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	return members, nil
}

func (s *Store) memberStatus(ctx context.Context, id, addr string) (MemberStatus, error) {
	if id == s.cfg.NodeID {
		return s.LocalStatus(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	out, err := s.peers.call(ctx, addr, methodStatus, nil)
	if err != nil {
		return MemberStatus{}, err
	}
	var st MemberStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return MemberStatus{}, fmt.Errorf("malformed status from %s: %w", addr, err)
	}
	return st, nil
}

// Membership operations.
const (
	opAddNonvoter = "add-nonvoter"
	opPromote     = "promote"
	opDemote      = "demote"
	opRemove      = "remove"
	opTransfer    = "transfer-leadership"
)

// AddNonvoter adds a member that receives the log but does not vote. Autopilot promotes it to
// voter once it has caught up. Re-adding a member's ID with a new address updates the address
// and keeps its role. A removed ID is refused with ErrMemberRemoved.
func (s *Store) AddNonvoter(ctx context.Context, id, addr string) error {
	return s.membership(ctx, membershipRequest{Op: opAddNonvoter, ID: id, Address: addr})
}

// Promote makes a non-voter a voter. Unless force is set it must have caught up with the
// leader (ErrNotCaughtUp).
func (s *Store) Promote(ctx context.Context, id string, force bool) error {
	return s.membership(ctx, membershipRequest{Op: opPromote, ID: id, Force: force})
}

// Demote makes a voter a non-voter that autopilot leaves alone. Unless force is set it is
// refused when the remaining voters would not keep a healthy quorum (ErrQuorumAtRisk).
func (s *Store) Demote(ctx context.Context, id string, force bool) error {
	return s.membership(ctx, membershipRequest{Op: opDemote, ID: id, Force: force})
}

// RemoveMember removes a member for good: its ID can never be reused. Unless force is set it is
// refused when the remaining voters would not keep a healthy quorum (ErrQuorumAtRisk).
// Removing the leader makes it step down.
func (s *Store) RemoveMember(ctx context.Context, id string, force bool) error {
	return s.membership(ctx, membershipRequest{Op: opRemove, ID: id, Force: force})
}

// TransferLeadership hands leadership to the voter with ID to, or to the most up-to-date
// voter when to is empty, and waits for the transfer to finish.
func (s *Store) TransferLeadership(ctx context.Context, to string) error {
	return s.membership(ctx, membershipRequest{Op: opTransfer, ID: to})
}

// membership runs req on the leader, forwarding it when needed and retrying across elections.
func (s *Store) membership(ctx context.Context, req membershipRequest) error {
	ctx, cancel := s.requestContext(ctx)
	defer cancel()
	for attempt := 0; ; attempt++ {
		changed := s.leaderChanged()
		err := s.membershipOnce(ctx, req)
		if !errors.Is(err, errNotLeader) && !errors.Is(err, errLeaderNotReady) && !errors.Is(err, ErrNoLeader) {
			return err
		}
		if werr := s.retryWait(ctx, changed, attempt); werr != nil {
			return fmt.Errorf("%w: %v (last attempt: %v)", ErrNoLeader, werr, err)
		}
	}
}

func (s *Store) membershipOnce(ctx context.Context, req membershipRequest) error {
	if s.raft.State() == raft.Leader {
		return s.applyMembership(ctx, req)
	}
	_, addr := s.Leader()
	if addr == "" {
		return ErrNoLeader
	}
	payload, _ := json.Marshal(req)
	out, err := s.peers.call(ctx, addr, methodMembership, payload)
	if err != nil {
		return classifyRPCError(err)
	}
	var reply membershipReply
	if err := json.Unmarshal(out, &reply); err != nil {
		return fmt.Errorf("raftstore: malformed membership reply: %w", err)
	}
	return decodeError(reply.Code, reply.Message)
}

// applyMembership performs req on this member, which must be the leader.
func (s *Store) applyMembership(ctx context.Context, req membershipRequest) error {
	if s.raft.State() != raft.Leader {
		return errNotLeader
	}
	if req.ID == "" && req.Op != opTransfer {
		return fmt.Errorf("%w: member ID is required", ErrInvalidRequest)
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("raftstore: read configuration: %w", err)
	}
	var current *raft.Server
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == req.ID {
			current = &srv
		}
	}
	timeout := time.Until(deadline(ctx, s.cfg.RequestTimeout))
	switch req.Op {
	case opAddNonvoter:
		return s.addNonvoter(ctx, req, current, timeout)
	case opPromote:
		if current == nil {
			return fmt.Errorf("%w: %q", ErrMemberNotFound, req.ID)
		}
		if !req.Force {
			if err := s.checkCaughtUp(ctx, req.ID); err != nil {
				return err
			}
		}
		if _, err := s.Txn(ctx, Txn{Ops: []Op{Delete(nonvoterPrefix + req.ID)}}); err != nil {
			return err
		}
		return raftErr(s.raft.AddVoter(current.ID, current.Address, 0, timeout).Error())
	case opDemote:
		if current == nil {
			return fmt.Errorf("%w: %q", ErrMemberNotFound, req.ID)
		}
		if current.Suffrage != raft.Voter {
			return nil
		}
		if !req.Force {
			if err := s.checkQuorumWithout(ctx, req.ID); err != nil {
				return err
			}
		}
		if _, err := s.Txn(ctx, Txn{Ops: []Op{Put(nonvoterPrefix+req.ID, []byte(req.ID))}}); err != nil {
			return err
		}
		return raftErr(s.raft.DemoteVoter(current.ID, 0, timeout).Error())
	case opRemove:
		if current == nil {
			return fmt.Errorf("%w: %q", ErrMemberNotFound, req.ID)
		}
		if !req.Force && current.Suffrage == raft.Voter {
			if err := s.checkQuorumWithout(ctx, req.ID); err != nil {
				return err
			}
		}
		if _, err := s.Txn(ctx, Txn{Ops: []Op{Put(removedPrefix+req.ID, []byte(req.ID)), Delete(nonvoterPrefix + req.ID)}}); err != nil {
			return err
		}
		return raftErr(s.raft.RemoveServer(current.ID, 0, timeout).Error())
	case opTransfer:
		if req.ID == "" {
			return raftErr(s.raft.LeadershipTransfer().Error())
		}
		if current == nil {
			return fmt.Errorf("%w: %q", ErrMemberNotFound, req.ID)
		}
		if current.Suffrage != raft.Voter {
			return fmt.Errorf("%w: %q", ErrNotVoter, req.ID)
		}
		if req.ID == s.cfg.NodeID {
			return nil
		}
		return raftErr(s.raft.LeadershipTransferToServer(current.ID, current.Address).Error())
	}
	return fmt.Errorf("%w: unknown membership operation %q", ErrInvalidRequest, req.Op)
}

func (s *Store) addNonvoter(ctx context.Context, req membershipRequest, current *raft.Server, timeout time.Duration) error {
	if req.Address == "" {
		return fmt.Errorf("%w: address is required to add %q", ErrInvalidRequest, req.ID)
	}
	_, removed, _, err := s.Get(ctx, removedPrefix+req.ID, ReadOptions{})
	if err != nil {
		return err
	}
	if removed {
		return fmt.Errorf("%w: %q", ErrMemberRemoved, req.ID)
	}
	switch {
	case current == nil:
		return raftErr(s.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.Address), 0, timeout).Error())
	case string(current.Address) == req.Address:
		return nil // already a member at this address
	case current.Suffrage == raft.Voter:
		s.log.Info("member rejoined with a new address", "id", req.ID, "old", current.Address, "new", req.Address)
		return raftErr(s.raft.AddVoter(current.ID, raft.ServerAddress(req.Address), 0, timeout).Error())
	default:
		s.log.Info("member rejoined with a new address", "id", req.ID, "old", current.Address, "new", req.Address)
		return raftErr(s.raft.AddNonvoter(current.ID, raft.ServerAddress(req.Address), 0, timeout).Error())
	}
}

// raftErr maps Raft's configuration-change errors: losing leadership means retry.
func raftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return wrapAs(errNotLeader, err)
	}
	return fmt.Errorf("raftstore: %w", err)
}

func (s *Store) checkCaughtUp(ctx context.Context, id string) error {
	members, err := s.Members(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.ID == id {
			if !m.Healthy {
				return fmt.Errorf("%w: %q trails by %d entries (%s)", ErrNotCaughtUp, id, m.Lag, m.Error)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrMemberNotFound, id)
}

// checkQuorumWithout refuses a change that would leave the remaining voters without a healthy
// majority.
func (s *Store) checkQuorumWithout(ctx context.Context, id string) error {
	members, err := s.Members(ctx)
	if err != nil {
		return err
	}
	voters, healthy := 0, 0
	for _, m := range members {
		if !m.Voter || m.ID == id {
			continue
		}
		voters++
		if m.Healthy {
			healthy++
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: %q is the last voter", ErrQuorumAtRisk, id)
	}
	if need := voters/2 + 1; healthy < need {
		return fmt.Errorf("%w: without %q, %d of %d remaining voters are healthy and a quorum needs %d",
			ErrQuorumAtRisk, id, healthy, voters, need)
	}
	return nil
}

// autopilot promotes non-voters that stay caught up for the stabilization time, until the
// cluster has the target number of voters. It runs on the leader until ctx ends.
func (s *Store) autopilot(ctx context.Context) {
	ap := s.cfg.Autopilot
	if !ap.Enabled {
		return
	}
	target := ap.TargetVoters
	if target == 0 {
		target = 5
	}
	healthySince := map[string]time.Time{}
	t := time.NewTicker(ap.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.autopilotOnce(ctx, target, healthySince)
		s.autopilotRounds.Add(1)
	}
}

// autopilotOnce promotes the non-voters that have been healthy for the stabilization time.
func (s *Store) autopilotOnce(ctx context.Context, target int, healthySince map[string]time.Time) {
	ap := s.cfg.Autopilot
	members, err := s.Members(ctx)
	if err != nil {
		return
	}
	voters := 0
	for _, m := range members {
		if m.Voter {
			voters++
		}
	}
	for _, m := range members {
		if m.Voter || !m.Healthy {
			delete(healthySince, m.ID)
			continue
		}
		since, ok := healthySince[m.ID]
		if !ok {
			healthySince[m.ID] = time.Now()
			continue
		}
		if time.Since(since) < ap.StabilizationTime || voters >= target {
			continue
		}
		_, pinned, _, err := s.Get(ctx, nonvoterPrefix+m.ID, ReadOptions{})
		if err != nil || pinned {
			continue
		}
		if err := s.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Address), 0, s.cfg.RequestTimeout).Error(); err != nil {
			s.log.Warn("autopilot could not promote a member", "id", m.ID, "error", err)
			continue
		}
		s.log.Info("autopilot promoted a caught-up member to voter", "id", m.ID)
		voters++
		delete(healthySince, m.ID)
	}
}

// compactor compacts history on the leader: every retention period it compacts to the
// revision it saw one period earlier. It runs until ctx ends.
func (s *Store) compactor(ctx context.Context) {
	retention := s.cfg.CompactionRetention
	if retention <= 0 {
		return
	}
	t := time.NewTicker(retention)
	defer t.Stop()
	prev := s.fsm.revision()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Compact(ctx, prev); err != nil {
			s.log.Warn("compaction failed", "revision", prev, "error", err)
			continue
		}
		prev = s.fsm.revision()
	}
}
