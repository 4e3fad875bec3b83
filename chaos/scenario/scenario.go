package scenario

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/capstan-io/capstan/chaos/fault"
)

// Step is one fault of a plan.
type Step struct {
	Fault fault.Fault
	// Hold is how long the fault stays before it is healed.
	Hold time.Duration
	// Quiet is how long traffic runs after the cluster recovered, before the next step.
	Quiet time.Duration
}

// Scenario is a named run.
type Scenario struct {
	Name    string
	Summary string
	// ServerArgs are extra `capstan server` flags the scenario needs.
	ServerArgs []string
	// SmallDisk puts one master's data directory on a small tmpfs (needs root).
	SmallDisk bool
	// Firewall marks scenarios that need nftables (root and a private network namespace).
	Firewall bool
	// Repeat runs the plan again and again until the run's duration is used up; otherwise the
	// plan runs once and the rest of the duration is quiet traffic.
	Repeat bool
	// Plan draws the steps.
	Plan func(rng *rand.Rand) []Step
}

// LongKills is how many leader kills the long scenario injects.
const LongKills = 200

// snapshotArgs make the leader snapshot and truncate its log after a few hundred entries,
// so a follower that is down for a few seconds must install a snapshot.
var snapshotArgs = []string{"--raft-snapshot-threshold=128", "--raft-trailing-logs=64", "--raft-snapshot-interval=200ms"}

// snapshotEntries is how far the log moves while the snapshot-install victim is down: well
// past threshold plus trailing logs.
const snapshotEntries = 600

func oneOf[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// quiet is the traffic between steps: 1 s ± 200 ms, as etcd's robustness tests.
func quiet(rng *rand.Rand) time.Duration {
	return 800*time.Millisecond + time.Duration(rng.Int64N(int64(400*time.Millisecond)))
}

// makers build one step of each fault kind.
var makers = map[string]func(rng *rand.Rand) Step{
	"kill-leader": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.KillLeader{}, Hold: oneOf(rng, 0, 500*time.Millisecond, time.Second), Quiet: quiet(rng)}
	},
	"kill-follower": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.KillFollower{}, Hold: oneOf(rng, 0, time.Second), Quiet: quiet(rng)}
	},
	"pause-leader": func(rng *rand.Rand) Step {
		// 0.5, 2 and 10 election timeouts of 500 ms.
		return Step{Fault: &fault.PauseLeader{}, Hold: oneOf(rng, 250*time.Millisecond, time.Second, 5*time.Second), Quiet: quiet(rng)}
	},
	"restart": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.Restart{}, Hold: oneOf(rng, 0, time.Second), Quiet: quiet(rng)}
	},
	"partition-leader": func(rng *rand.Rand) Step {
		return Step{Fault: fault.PartitionLeader{}, Hold: oneOf(rng, time.Second, 3*time.Second), Quiet: quiet(rng)}
	},
	"delay-peers": func(rng *rand.Rand) Step {
		return Step{Fault: fault.DelayPeers{Delay: 75 * time.Millisecond, Jitter: 50 * time.Millisecond}, Hold: oneOf(rng, time.Second, 3*time.Second), Quiet: quiet(rng)}
	},
	"membership": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.Membership{}, Hold: oneOf(rng, 0, time.Second), Quiet: quiet(rng)}
	},
	"transfer-leader": func(rng *rand.Rand) Step {
		return Step{Fault: fault.TransferLeader{}, Quiet: quiet(rng)}
	},
	"snapshot-install": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.SnapshotInstall{Entries: snapshotEntries}, Quiet: quiet(rng)}
	},
	"disk-full": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.DiskFull{}, Hold: oneOf(rng, time.Second, 3*time.Second), Quiet: quiet(rng)}
	},
	"kill-agent": func(rng *rand.Rand) Step {
		return Step{Fault: &fault.KillAgent{}, Hold: oneOf(rng, 0, time.Second), Quiet: quiet(rng)}
	},
	"gossip-partition": func(rng *rand.Rand) Step {
		return Step{Fault: fault.GossipPartition{}, Hold: oneOf(rng, 2*time.Second, 6*time.Second), Quiet: quiet(rng)}
	},
}

// kindsWithoutRoot are the fault kinds every machine can run.
var kindsWithoutRoot = []string{"kill-leader", "kill-follower", "pause-leader", "restart", "partition-leader", "delay-peers", "membership", "transfer-leader", "snapshot-install"}

// single is a scenario that repeats one fault kind.
func single(kind, summary string) Scenario {
	s := Scenario{Name: kind, Summary: summary, Repeat: true, Plan: func(rng *rand.Rand) []Step { return []Step{makers[kind](rng)} }}
	switch kind {
	case "snapshot-install":
		s.ServerArgs = snapshotArgs
	case "disk-full":
		s.SmallDisk = true
	case "gossip-partition":
		s.Firewall = true
	}
	return s
}

// All returns every scenario, sorted by name.
func All() []Scenario {
	out := []Scenario{
		{Name: "quiet", Summary: "no faults: traffic and checks only (catches checker false positives)", Plan: func(*rand.Rand) []Step { return nil }},
		single("kill-leader", "SIGKILL the leader, restart it on its data after 0-1 s (P1)"),
		single("kill-follower", "SIGKILL a follower serving watches, restart it (P2)"),
		single("pause-leader", "SIGSTOP the leader for 0.25, 1 or 5 s, then SIGCONT: no stale reads from the old leader (P6)"),
		single("restart", "SIGTERM a random master and restart it with its data (rolling restart)"),
		single("partition-leader", "blackhole the leader's peer links for 1-3 s (N1)"),
		single("delay-peers", "delay every peer link 75 ± 50 ms for 1-3 s (N6)"),
		single("membership", "remove a random master under load, add a replacement with a new name and data dir (M2/M3)"),
		single("transfer-leader", "graceful leadership transfer under load through the admin API (M1)"),
		single("snapshot-install", "kill a follower, let the leader truncate its log past it, restart: it must install a snapshot (N2)"),
		single("disk-full", "fill the small tmpfs data dir of one master, then free it (D1; root)"),
		single("gossip-partition", "drop the leader's liveness gossip with nftables (N8; root, --netns)"),
		single("kill-agent", "SIGKILL a node agent and restart it (skipped when the run has no agents)"),
		{
			Name: "mixed", Summary: "a random fault kind at every step (no root needed)", Repeat: true, ServerArgs: snapshotArgs,
			Plan: func(rng *rand.Rand) []Step { return []Step{makers[oneOf(rng, kindsWithoutRoot...)](rng)} },
		},
		{
			Name:    "long",
			Summary: "the long suite (make chaos): 200 leader kills under load, then 50 leadership transfers",
			Plan: func(rng *rand.Rand) []Step {
				var steps []Step
				for i := 0; i < LongKills; i++ {
					steps = append(steps, makers["kill-leader"](rng))
				}
				for i := 0; i < 50; i++ {
					steps = append(steps, makers["transfer-leader"](rng))
				}
				return steps
			},
		},
		{
			Name:    "ci",
			Summary: "the CI suite: 20 leader kills, 10 leadership transfers, then one of every other fault",
			// Snapshot settings let snapshot-install run; disk-full and gossip-partition are
			// skipped with a message where they cannot run.
			ServerArgs: snapshotArgs, SmallDisk: true, Firewall: true,
			Plan: func(rng *rand.Rand) []Step {
				var steps []Step
				for i := 0; i < 20; i++ {
					steps = append(steps, makers["kill-leader"](rng))
				}
				for i := 0; i < 10; i++ {
					steps = append(steps, makers["transfer-leader"](rng))
				}
				for _, k := range []string{"kill-follower", "pause-leader", "restart", "partition-leader", "delay-peers", "membership", "snapshot-install", "disk-full", "gossip-partition", "kill-agent"} {
					steps = append(steps, makers[k](rng))
				}
				return steps
			},
		},
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the scenario names.
func Names() []string {
	var out []string
	for _, s := range All() {
		out = append(out, s.Name)
	}
	return out
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, error) {
	for _, s := range All() {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w %q; choose one of %s", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Single returns a scenario that runs the named fault kinds once each, in order, for pinned
// regression runs and tests.
func Single(name string, kinds ...string) (Scenario, error) {
	s := Scenario{Name: name, Summary: "faults " + strings.Join(kinds, ", ")}
	for _, k := range kinds {
		if _, ok := makers[k]; !ok {
			return Scenario{}, fmt.Errorf("%w: no fault kind %q", ErrUnknown, k)
		}
		switch k {
		case "snapshot-install":
			s.ServerArgs = snapshotArgs
		case "disk-full":
			s.SmallDisk = true
		case "gossip-partition":
			s.Firewall = true
		}
	}
	s.Plan = func(rng *rand.Rand) []Step {
		steps := make([]Step, 0, len(kinds))
		for _, k := range kinds {
			steps = append(steps, makers[k](rng))
		}
		return steps
	}
	return s, nil
}

// FaultKinds returns every fault kind a plan can hold, sorted.
func FaultKinds() []string {
	var out []string
	for k := range makers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Regression pins a run that once found a bug: its scenario, seed and duration replay it.
type Regression struct {
	// Name says what the bug was, in a few words.
	Name string
	// Scenario, Seed and Duration replay the run that found it.
	Scenario string
	Seed     uint64
	Duration time.Duration
	// LogStore is the masters' Raft log store for the replay ("" for the server default).
	LogStore string
	// Bug describes the bug and its fix.
	Bug string
	// Open is set while the bug is not fixed: it says what must change, and tests skip the
	// replay with it as the note.
	Open string
}

// Regressions returns the pinned regression runs, in the order they were found.
func Regressions() []Regression {
	return []Regression{
		{
			Name: "delete-precondition-stale-read", Scenario: "quiet", Seed: 1, Duration: 20 * time.Second,
			Bug: "a DELETE with a resourceVersion precondition sent to a follower was refused with 409 when the follower's " +
				"local copy lagged behind the client's own acknowledged update (apiserver/registry/delete.go checked the " +
				"precondition on a stale read and never re-read linearizably, unlike update); fixed by re-reading once before refusing",
		},
		{
			Name: "wal-tail-truncation-unreadable", Scenario: "kill-leader", Seed: 7, Duration: 60 * time.Second, LogStore: "wal",
			Bug: "a killed leader restarts as a follower and truncates its uncommitted log suffix; raft-wal v0.4.0 marked the tail " +
				"segment sealed without writing its index block (hashicorp/raft-wal#31), so the next restart panicked in raft.NewRaft " +
				"with \"sealed segment has no index block\" and the master never came back; fixed by raft-wal v0.4.1 (ForceSeal on " +
				"tail truncation)",
		},
	}
}
