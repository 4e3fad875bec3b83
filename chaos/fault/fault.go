package fault

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Network controls the peer links between masters.
type Network interface {
	// Isolate cuts every peer link to and from the masters.
	Isolate(names ...string)
	// SetDelay delays every peer link by delay ± jitter.
	SetDelay(delay, jitter time.Duration)
	// Heal removes every network fault.
	Heal()
}

// Firewall drops packets by port (root, private network namespace only).
type Firewall interface {
	IsolatePorts(ctx context.Context, ports ...int) error
	Flush(ctx context.Context) error
}

// Disk is a master's size-limited data directory.
type Disk interface {
	// Master names the master whose data directory it is.
	Master() string
	// Fill takes all free space; Free gives it back.
	Fill() error
	Free() error
}

// Agents controls the node agents (hollow nodes) of a run.
type Agents interface {
	// Names returns the running agents, sorted.
	Names() []string
	// Kill SIGKILLs an agent; Restart starts it again with its state.
	Kill(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
}

// Target is the running cluster as faults see it. The runner implements it; its methods are
// called from the runner's fault goroutine only.
type Target interface {
	// Now is the history clock (ns since the run started).
	Now() int64
	// Rand is the run's seeded generator for the fault schedule.
	Rand() *rand.Rand
	// Logf logs a line of the run's progress.
	Logf(format string, args ...any)

	// Leader returns the current leader, waiting within ctx for one.
	Leader(ctx context.Context) (string, error)
	// Masters returns the running masters, sorted.
	Masters() []string
	// Kill sends SIGKILL and waits for the process to exit; Stop sends SIGTERM.
	Kill(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	// Signal sends sig to a running master.
	Signal(name string, sig syscall.Signal) error
	// Restart starts a stopped master again on its data directory and waits until it serves.
	Restart(ctx context.Context, name string) error
	// Running reports whether the master's process is alive.
	Running(name string) bool
	// TransferLeadership asks the leader to hand over to to (any voter when "") and returns
	// the new leader.
	TransferLeadership(ctx context.Context, to string) (string, error)
	// RemoveMember removes a master from the membership for good and stops its process.
	RemoveMember(ctx context.Context, name string) error
	// AddMaster starts a new master with a new name and an empty data directory, joins it and
	// waits until it is a voter.
	AddMaster(ctx context.Context) (string, error)
	// Revision returns the cluster's current revision (a linearizable read).
	Revision(ctx context.Context) (uint64, error)
	// LogFile is the path of a master's log.
	LogFile(name string) string
	// GossipPort is a master's gossip port.
	GossipPort(name string) int

	// Network controls the peer links.
	Network() Network
	// Firewall returns nil when packet filtering is unavailable (not root, host namespace).
	Firewall() Firewall
	// Disk returns the master whose data directory is a small tmpfs, if the run has one.
	Disk() (Disk, bool)
	// Agents returns nil when the run has no node agents.
	Agents() Agents
}

// Effect is what an injection did.
type Effect struct {
	// Target names what the fault hit.
	Target string
	// At is when it took effect, on the history clock.
	At int64
	// Note records what was observed.
	Note string
}

// Fault is one injectable fault.
type Fault interface {
	// Kind is the fault's stable name, used in reports.
	Kind() string
	// Inject applies the fault and returns once it is in effect.
	Inject(ctx context.Context, t Target) (Effect, error)
	// Heal undoes it. It may return before the cluster is healthy again; the runner waits.
	// Heal returns a note on what healing observed, if anything.
	Heal(ctx context.Context, t Target) (string, error)
}

// pick returns a random element of names, or ErrNoVictim.
func pick(t Target, names []string) (string, error) {
	if len(names) == 0 {
		return "", ErrNoVictim
	}
	return names[t.Rand().IntN(len(names))], nil
}

// followers returns the running masters other than the leader.
func followers(ctx context.Context, t Target) ([]string, string, error) {
	leader, err := t.Leader(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, m := range t.Masters() {
		if m != leader {
			out = append(out, m)
		}
	}
	return out, leader, nil
}

// KillLeader SIGKILLs the leader; Heal restarts it on its data directory (P1).
type KillLeader struct{ victim string }

// Kind returns "kill-leader".
func (*KillLeader) Kind() string { return "kill-leader" }

// Inject kills the leader.
func (f *KillLeader) Inject(ctx context.Context, t Target) (Effect, error) {
	l, err := t.Leader(ctx)
	if err != nil {
		return Effect{}, err
	}
	f.victim = l
	at := t.Now()
	return Effect{Target: l, At: at}, t.Kill(ctx, l)
}

// Heal restarts the killed leader.
func (f *KillLeader) Heal(ctx context.Context, t Target) (string, error) {
	return "", t.Restart(ctx, f.victim)
}

// KillFollower SIGKILLs a random follower; Heal restarts it (P2).
type KillFollower struct{ victim string }

// Kind returns "kill-follower".
func (*KillFollower) Kind() string { return "kill-follower" }

// Inject kills a follower.
func (f *KillFollower) Inject(ctx context.Context, t Target) (Effect, error) {
	fs, _, err := followers(ctx, t)
	if err != nil {
		return Effect{}, err
	}
	if f.victim, err = pick(t, fs); err != nil {
		return Effect{}, err
	}
	at := t.Now()
	return Effect{Target: f.victim, At: at}, t.Kill(ctx, f.victim)
}

// Heal restarts the follower.
func (f *KillFollower) Heal(ctx context.Context, t Target) (string, error) {
	return "", t.Restart(ctx, f.victim)
}

// PauseLeader SIGSTOPs the leader; Heal SIGCONTs it (P6). The resumed old leader must not
// serve a stale read.
type PauseLeader struct{ victim string }

// Kind returns "pause-leader".
func (*PauseLeader) Kind() string { return "pause-leader" }

// Inject stops the leader's process.
func (f *PauseLeader) Inject(ctx context.Context, t Target) (Effect, error) {
	l, err := t.Leader(ctx)
	if err != nil {
		return Effect{}, err
	}
	f.victim = l
	at := t.Now()
	return Effect{Target: l, At: at}, t.Signal(l, syscall.SIGSTOP)
}

// Heal resumes it.
func (f *PauseLeader) Heal(_ context.Context, t Target) (string, error) {
	return "", t.Signal(f.victim, syscall.SIGCONT)
}

// Restart stops a random master with SIGTERM (a leader hands over first) and Heal starts it
// again on the same data directory.
type Restart struct{ victim string }

// Kind returns "restart".
func (*Restart) Kind() string { return "restart" }

// Inject stops a master.
func (f *Restart) Inject(ctx context.Context, t Target) (Effect, error) {
	var err error
	if f.victim, err = pick(t, t.Masters()); err != nil {
		return Effect{}, err
	}
	at := t.Now()
	return Effect{Target: f.victim, At: at}, t.Stop(ctx, f.victim)
}

// Heal starts it again.
func (f *Restart) Heal(ctx context.Context, t Target) (string, error) {
	return "", t.Restart(ctx, f.victim)
}

// PartitionLeader cuts the leader's peer links (N1): the minority old leader must stop
// acknowledging writes and linearizable reads, the majority elects a new one.
type PartitionLeader struct{}

// Kind returns "partition-leader".
func (PartitionLeader) Kind() string { return "partition-leader" }

// Inject isolates the leader.
func (PartitionLeader) Inject(ctx context.Context, t Target) (Effect, error) {
	l, err := t.Leader(ctx)
	if err != nil {
		return Effect{}, err
	}
	at := t.Now()
	t.Network().Isolate(l)
	return Effect{Target: l, At: at}, nil
}

// Heal reconnects it.
func (PartitionLeader) Heal(context.Context, Target) (string, error) {
	return "", nil // the runner heals the network after every fault
}

// DelayPeers delays every peer link (N6).
type DelayPeers struct {
	Delay, Jitter time.Duration
}

// Kind returns "delay-peers".
func (DelayPeers) Kind() string { return "delay-peers" }

// Inject sets the delay.
func (f DelayPeers) Inject(_ context.Context, t Target) (Effect, error) {
	at := t.Now()
	t.Network().SetDelay(f.Delay, f.Jitter)
	return Effect{Target: "all peer links", At: at, Note: fmt.Sprintf("%s ± %s", f.Delay, f.Jitter)}, nil
}

// Heal is done by the runner, which heals the network after every fault.
func (DelayPeers) Heal(context.Context, Target) (string, error) { return "", nil }

// Membership removes a random master (possibly the leader) from the membership under load and
// Heal adds a replacement with a new name and an empty data directory (M2, M3): removed IDs
// are never reused.
type Membership struct{ victim string }

// Kind returns "membership".
func (*Membership) Kind() string { return "membership" }

// Inject removes a master. The master on the small disk is spared: disk-full faults need it.
func (f *Membership) Inject(ctx context.Context, t Target) (Effect, error) {
	candidates := t.Masters()
	if d, ok := t.Disk(); ok {
		candidates = slices.DeleteFunc(candidates, func(m string) bool { return m == d.Master() })
	}
	var err error
	if f.victim, err = pick(t, candidates); err != nil {
		return Effect{}, err
	}
	at := t.Now()
	return Effect{Target: f.victim, At: at}, t.RemoveMember(ctx, f.victim)
}

// Heal adds a new master.
func (f *Membership) Heal(ctx context.Context, t Target) (string, error) {
	name, err := t.AddMaster(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("replaced %s with %s", f.victim, name), nil
}

// TransferLeader hands leadership to another voter through the admin API (M1).
type TransferLeader struct{}

// Kind returns "transfer-leader".
func (TransferLeader) Kind() string { return "transfer-leader" }

// Inject transfers leadership.
func (TransferLeader) Inject(ctx context.Context, t Target) (Effect, error) {
	old, err := t.Leader(ctx)
	if err != nil {
		return Effect{}, err
	}
	at := t.Now()
	next, err := t.TransferLeadership(ctx, "")
	return Effect{Target: old, At: at, Note: fmt.Sprintf("%s -> %s", old, next)}, err
}

// Heal does nothing.
func (TransferLeader) Heal(context.Context, Target) (string, error) { return "", nil }

// SnapshotInstall kills a follower, waits until the cluster has written Entries more entries
// (with the run's low snapshot threshold and trailing logs, the leader then truncates its log
// past the follower's index) and Heal restarts it, so it must catch up by installing a
// snapshot (N2). Heal's note says whether the follower's log shows one installed.
type SnapshotInstall struct {
	// Entries is how many revisions to wait for while the follower is down.
	Entries uint64
	victim  string
	before  int
}

// Kind returns "snapshot-install".
func (*SnapshotInstall) Kind() string { return "snapshot-install" }

// snapshotInstalledLine is what hashicorp/raft logs when a follower installs a snapshot sent
// by the leader.
const snapshotInstalledLine = "Installed remote snapshot"

// Inject kills a follower and waits for the log to move on.
func (f *SnapshotInstall) Inject(ctx context.Context, t Target) (Effect, error) {
	fs, _, err := followers(ctx, t)
	if err != nil {
		return Effect{}, err
	}
	if f.victim, err = pick(t, fs); err != nil {
		return Effect{}, err
	}
	f.before = countLines(t.LogFile(f.victim), snapshotInstalledLine)
	start, err := t.Revision(ctx)
	if err != nil {
		return Effect{}, err
	}
	at := t.Now()
	if err := t.Kill(ctx, f.victim); err != nil {
		return Effect{Target: f.victim, At: at}, err
	}
	for {
		rev, err := t.Revision(ctx)
		if err == nil && rev >= start+f.Entries {
			return Effect{Target: f.victim, At: at, Note: fmt.Sprintf("revision %d -> %d while down", start, rev)}, nil
		}
		select {
		case <-ctx.Done():
			return Effect{Target: f.victim, At: at}, fmt.Errorf("the cluster did not write %d entries while %s was down: %w", f.Entries, f.victim, ctx.Err())
		case <-time.After(100 * time.Millisecond): // polling interval
		}
	}
}

// Heal restarts the follower and reports whether it installed a snapshot.
func (f *SnapshotInstall) Heal(ctx context.Context, t Target) (string, error) {
	if err := t.Restart(ctx, f.victim); err != nil {
		return "", err
	}
	// The follower installs the snapshot right after it starts; give it until it is healthy.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if countLines(t.LogFile(f.victim), snapshotInstalledLine) > f.before {
			return f.victim + " installed a snapshot", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling interval
		}
	}
	return f.victim + " caught up without installing a snapshot", nil
}

// countLines counts the lines of a file that contain s.
func countLines(path, s string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), s)
}

// DiskFull fills the small tmpfs data directory of one master (D1): its writes must fail
// cleanly and it must recover once space is freed. Heal frees the space and restarts the
// master if it exited.
type DiskFull struct{ disk Disk }

// Kind returns "disk-full".
func (*DiskFull) Kind() string { return "disk-full" }

// Inject fills the disk.
func (f *DiskFull) Inject(_ context.Context, t Target) (Effect, error) {
	d, ok := t.Disk()
	if !ok {
		return Effect{}, fmt.Errorf("%w: no master has a size-limited data directory (mounting tmpfs needs root)", ErrUnsupported)
	}
	f.disk = d
	at := t.Now()
	return Effect{Target: d.Master(), At: at}, d.Fill()
}

// Heal frees the space and restarts the master if the full disk stopped it.
func (f *DiskFull) Heal(ctx context.Context, t Target) (string, error) {
	if err := f.disk.Free(); err != nil {
		return "", err
	}
	if t.Running(f.disk.Master()) {
		return f.disk.Master() + " kept running", nil
	}
	return f.disk.Master() + " exited and was restarted", t.Restart(ctx, f.disk.Master())
}

// GossipPartition drops the leader's liveness gossip (UDP and TCP) with nftables (N8). It
// needs root and a private network namespace (capstan chaos run --netns).
type GossipPartition struct{}

// Kind returns "gossip-partition".
func (GossipPartition) Kind() string { return "gossip-partition" }

// Inject drops the leader's gossip.
func (GossipPartition) Inject(ctx context.Context, t Target) (Effect, error) {
	fw := t.Firewall()
	if fw == nil {
		return Effect{}, fmt.Errorf("%w: gossip partitions need root and a private network namespace (capstan chaos run --netns)", ErrUnsupported)
	}
	l, err := t.Leader(ctx)
	if err != nil {
		return Effect{}, err
	}
	at := t.Now()
	return Effect{Target: l, At: at}, fw.IsolatePorts(ctx, t.GossipPort(l))
}

// Heal removes the rules.
func (GossipPartition) Heal(ctx context.Context, t Target) (string, error) {
	if fw := t.Firewall(); fw != nil {
		return "", fw.Flush(ctx)
	}
	return "", nil
}

// KillAgent SIGKILLs a random node agent; Heal restarts it. Runs without agents skip it.
type KillAgent struct{ victim string }

// Kind returns "kill-agent".
func (*KillAgent) Kind() string { return "kill-agent" }

// Inject kills an agent.
func (f *KillAgent) Inject(ctx context.Context, t Target) (Effect, error) {
	a := t.Agents()
	if a == nil || len(a.Names()) == 0 {
		return Effect{}, fmt.Errorf("%w: the run has no node agents", ErrUnsupported)
	}
	names := a.Names()
	f.victim = names[t.Rand().IntN(len(names))]
	at := t.Now()
	return Effect{Target: f.victim, At: at}, a.Kill(ctx, f.victim)
}

// Heal restarts the agent.
func (f *KillAgent) Heal(ctx context.Context, t Target) (string, error) {
	return "", t.Agents().Restart(ctx, f.victim)
}

// Compile-time checks.
var (
	_ Fault = (*KillLeader)(nil)
	_ Fault = (*KillFollower)(nil)
	_ Fault = (*PauseLeader)(nil)
	_ Fault = (*Restart)(nil)
	_ Fault = PartitionLeader{}
	_ Fault = DelayPeers{}
	_ Fault = (*Membership)(nil)
	_ Fault = TransferLeader{}
	_ Fault = (*SnapshotInstall)(nil)
	_ Fault = (*DiskFull)(nil)
	_ Fault = GossipPartition{}
	_ Fault = (*KillAgent)(nil)
)
