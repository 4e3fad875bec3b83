// Package chaos is Capstan's chaos suite: it launches a cluster of real `capstan server`
// processes on this machine, drives a recorded workload through the Kubernetes API against
// every master, injects faults on a seeded schedule, heals them, and checks the invariants of
// RELIABILITY.md §2 on the recorded history.
//
// Run is one run. Its parts live in subpackages with one job each:
//
//   - cluster launches, kills, pauses and restarts the master processes.
//   - proxy puts a fault-injecting TCP proxy on every Raft peer link (the CI-safe tier).
//   - firewall adds nftables rules in a private network namespace (root only).
//   - workload drives the traffic (KV: ConfigMaps with unique values; Deploy: a Deployment
//     scaled and rolled while the leader's controllers reconcile it) and records it.
//   - history is the recorded data; check holds the checkers and the availability measurement.
//   - fault holds the faults; scenario names the schedules; report writes the results.
//
// A run is replayable from its seed: the seed fixes the fault schedule (kinds, holds, quiet
// periods, which follower is picked) and every client's choice of operations. Timing on real
// processes is not deterministic, so a replay reproduces the schedule and the traffic mix,
// not the exact interleaving.
//
// Extension points: the runner drives any Workload, fault.Target.Agents is where launched node
// agents plug in (kill-agent is skipped until then), and check.Checker reads the history,
// which new record kinds can extend.
package chaos
