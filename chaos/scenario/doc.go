// Package scenario names the chaos suite's runs: which faults, in what order, held for how
// long, and which server settings they need. A scenario's plan is drawn from the run's seeded
// generator, so a seed replays the same schedule (the same faults, holds and quiet periods;
// which master is the leader at each step is up to the cluster).
package scenario
