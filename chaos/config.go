package chaos

import (
	"errors"
	"fmt"
	"time"

	"github.com/capstan-io/capstan/chaos/scenario"
	"github.com/capstan-io/capstan/chaos/workload"
)

// Config configures a run.
type Config struct {
	// Binary is the capstan executable the masters run.
	Binary string
	// Scenario is the schedule of faults.
	Scenario scenario.Scenario
	// Seed seeds the schedule and the workload.
	Seed uint64
	// Duration is how long traffic runs (at least the whole plan of a non-repeating scenario).
	Duration time.Duration
	// Masters is the cluster size: 3 or 5.
	Masters int
	// HollowNodes, when positive, runs one node agent with that many hollow nodes, so that
	// the Deployment's pods are scheduled and run and the agent faults have a victim.
	HollowNodes int
	// Out receives report.json, summary.txt and, on violations, the evidence. The masters'
	// data directories go to Out/cluster and are removed after a passing run unless KeepData.
	Out      string
	KeepData bool
	// LogStore is the masters' Raft log store ("wal" or "boltdb"); empty keeps the server's
	// default.
	LogStore string
	// HeartbeatTimeout and ElectionTimeout are the masters' Raft timeouts.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// Workload configures the KV workload; its Seed is set from Seed.
	Workload workload.Config
	// CheckTimeout bounds the checkers (porcupine above all).
	CheckTimeout time.Duration
	// Firewall enables nftables faults; the process must be root in a private network
	// namespace (capstan chaos run --netns).
	Firewall bool
	// Command is the command line that reproduces the run, for the report.
	Command string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// DefaultConfig returns the settings of `capstan chaos run`.
func DefaultConfig() Config {
	s, _ := scenario.Lookup("kill-leader")
	return Config{
		Scenario: s, Seed: 1, Duration: 30 * time.Second, Masters: 3, Out: "chaos-out",
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		Workload: workload.DefaultConfig(), CheckTimeout: 2 * time.Minute,
	}
}

// Validate reports every invalid setting, naming the bad value.
func (c Config) Validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("the capstan binary is required"))
	}
	if c.Scenario.Name == "" || c.Scenario.Plan == nil {
		errs = append(errs, errors.New("a scenario is required"))
	}
	if c.Duration < time.Second || c.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("duration %s must be between 1s and 24h", c.Duration))
	}
	if c.Masters != 3 && c.Masters != 5 {
		errs = append(errs, fmt.Errorf("masters %d must be 3 or 5", c.Masters))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("an output directory is required"))
	}
	if c.HollowNodes < 0 || c.HollowNodes > 1000 {
		errs = append(errs, fmt.Errorf("hollow nodes %d must be between 0 and 1000", c.HollowNodes))
	}
	if c.HeartbeatTimeout < 10*time.Millisecond || c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("Raft timeouts heartbeat %s and election %s must be at least 10ms, election no less than heartbeat", c.HeartbeatTimeout, c.ElectionTimeout))
	}
	if c.LogStore != "" && c.LogStore != "wal" && c.LogStore != "boltdb" {
		errs = append(errs, fmt.Errorf("log store %q must be wal or boltdb", c.LogStore))
	}
	if c.CheckTimeout < time.Second {
		errs = append(errs, fmt.Errorf("check timeout %s is below 1s", c.CheckTimeout))
	}
	if err := c.Workload.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
