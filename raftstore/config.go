package raftstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/capstan-io/capstan/raftstore/watch"
)

// Log store kinds for Config.LogStore.
const (
	// LogStoreWAL keeps the Raft log in hashicorp/raft-wal segments (the default).
	LogStoreWAL = "wal"
	// LogStoreBolt keeps the Raft log in raft-boltdb/v2, next to the stable store.
	LogStoreBolt = "boltdb"
)

// Config configures a Store. Start from DefaultConfig.
type Config struct {
	// NodeID is the member's stable Raft ID. It never changes for a data directory and is
	// never reused after the member is removed.
	NodeID string
	// DataDir holds the Raft log, the stable store and the snapshots. It is created if missing.
	DataDir string
	// InMemory keeps the log, stable store and snapshots in memory instead of DataDir, for
	// tests. Raft still runs over TCP.
	InMemory bool
	// LogStore is LogStoreWAL or LogStoreBolt.
	LogStore string

	// BindAddr is the peer address to listen on (Raft and forwarding share it), e.g.
	// "0.0.0.0:7000"; port 0 picks a free port.
	BindAddr string
	// AdvertiseAddr is the peer address other members dial. Empty means the bound address,
	// which must then not be an unspecified IP.
	AdvertiseAddr string
	// ServerTLS, when set, makes the peer listener speak TLS; set ClientCAs and
	// ClientAuth=tls.RequireAndVerifyClientCert for mutual TLS.
	ServerTLS *tls.Config
	// ClientTLS, when set, is used to dial other members; it must be set with ServerTLS.
	ClientTLS *tls.Config

	// Bootstrap makes a member with no Raft state start a new single-voter cluster. A member
	// with state ignores it.
	Bootstrap bool

	// HeartbeatTimeout and ElectionTimeout are Raft's timeouts (default 500 ms each).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// FastFailover makes a follower stand for election at once, without waiting for its
	// heartbeat timeout, when the leader has been silent for a quarter of HeartbeatTimeout
	// and its peer port refuses connections (its process is gone); see failover.go.
	FastFailover bool
	// LeaderLeaseTimeout is how long a leader stays leader without contact with a quorum.
	// It must not exceed HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long followers wait to learn a new commit index when the
	// leader has nothing else to send.
	CommitTimeout time.Duration
	// MaxAppendEntries is the most entries sent in one AppendEntries and applied in one batch.
	MaxAppendEntries int
	// SnapshotThreshold is how many entries since the last snapshot trigger a new one.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the threshold is checked.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries are kept after a snapshot, so slightly lagging
	// followers catch up from the log rather than from a snapshot.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept on disk.
	SnapshotRetain int

	// MaxValueSize limits one value (default 1.5 MiB, as etcd).
	MaxValueSize int
	// MaxTxnOps limits the operations of one transaction.
	MaxTxnOps int
	// MaxTxnBytes limits the encoded size of one transaction.
	MaxTxnBytes int
	// QuotaBytes limits the bytes of live keys and values; writes that would grow the store
	// past it fail with ErrQuotaExceeded.
	QuotaBytes int64

	// RequestTimeout bounds a request whose context has no deadline.
	RequestTimeout time.Duration
	// DedupEntries and DedupTTL bound the table of recent request IDs that makes a retried
	// write apply at most once: an ID is remembered for DedupTTL (by proposer clock) or until
	// DedupEntries newer IDs push it out, whichever comes first.
	DedupEntries int
	DedupTTL     time.Duration

	// Watch bounds the watch history and watchers.
	Watch watch.Config
	// CompactionRetention is how much history the leader keeps: every interval of this
	// length it compacts to the revision it saw one interval earlier. 0 disables it.
	CompactionRetention time.Duration

	// Autopilot promotes caught-up non-voters on the leader.
	Autopilot AutopilotConfig

	// Logger receives the store's and Raft's logs. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the store's Prometheus metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

// AutopilotConfig controls automatic promotion of non-voters, as Consul's autopilot does.
type AutopilotConfig struct {
	// Enabled turns automatic promotion on.
	Enabled bool
	// MaxTrailingLogs is how far behind the leader's commit index a non-voter may be and
	// still count as caught up.
	MaxTrailingLogs uint64
	// StabilizationTime is how long a non-voter must stay caught up before it is promoted.
	StabilizationTime time.Duration
	// Interval is how often the leader checks.
	Interval time.Duration
	// TargetVoters is the voter count autopilot aims for; non-voters are promoted only while
	// there are fewer voters (0 means 5). Voters are never demoted automatically.
	TargetVoters int
}

// DefaultConfig returns the defaults Capstan runs with.
func DefaultConfig() Config {
	return Config{
		LogStore:            LogStoreWAL,
		BindAddr:            "0.0.0.0:7000",
		HeartbeatTimeout:    500 * time.Millisecond,
		ElectionTimeout:     500 * time.Millisecond,
		LeaderLeaseTimeout:  250 * time.Millisecond,
		FastFailover:        true,
		CommitTimeout:       25 * time.Millisecond,
		MaxAppendEntries:    256,
		SnapshotThreshold:   8192,
		SnapshotInterval:    30 * time.Second,
		TrailingLogs:        10240,
		SnapshotRetain:      2,
		MaxValueSize:        1536 * 1024,
		MaxTxnOps:           1024,
		MaxTxnBytes:         8 << 20,
		QuotaBytes:          2 << 30,
		RequestTimeout:      10 * time.Second,
		DedupEntries:        200_000,
		DedupTTL:            2 * time.Minute,
		Watch:               watch.DefaultConfig(),
		CompactionRetention: 5 * time.Minute,
		Autopilot: AutopilotConfig{
			Enabled:           true,
			MaxTrailingLogs:   250,
			StabilizationTime: 2 * time.Second,
			Interval:          500 * time.Millisecond,
			TargetVoters:      5,
		},
	}
}

// Validate reports every invalid setting at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID == "" {
		add("raftstore: NodeID is required")
	}
	if c.DataDir == "" && !c.InMemory {
		add("raftstore: DataDir is required unless InMemory is set")
	}
	if c.LogStore != LogStoreWAL && c.LogStore != LogStoreBolt {
		add("raftstore: LogStore %q must be %q or %q", c.LogStore, LogStoreWAL, LogStoreBolt)
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		add("raftstore: BindAddr %q is not host:port: %v", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if host, port, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			add("raftstore: AdvertiseAddr %q is not host:port: %v", c.AdvertiseAddr, err)
		} else if ip := net.ParseIP(host); (ip != nil && ip.IsUnspecified()) || port == "0" {
			add("raftstore: AdvertiseAddr %q must name a reachable address and port", c.AdvertiseAddr)
		}
	}
	if (c.ServerTLS == nil) != (c.ClientTLS == nil) {
		add("raftstore: ServerTLS and ClientTLS must be set together")
	}
	if c.HeartbeatTimeout < 10*time.Millisecond {
		add("raftstore: HeartbeatTimeout %s is below the 10ms minimum", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		add("raftstore: ElectionTimeout %s is below HeartbeatTimeout %s", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		add("raftstore: LeaderLeaseTimeout %s must be between 5ms and HeartbeatTimeout %s", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout < time.Millisecond || c.CommitTimeout > c.HeartbeatTimeout {
		add("raftstore: CommitTimeout %s must be between 1ms and HeartbeatTimeout %s", c.CommitTimeout, c.HeartbeatTimeout)
	}
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		add("raftstore: MaxAppendEntries %d must be between 1 and 1024", c.MaxAppendEntries)
	}
	if c.SnapshotThreshold < 1 {
		add("raftstore: SnapshotThreshold must be at least 1")
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		add("raftstore: SnapshotInterval %s is below the 5ms minimum", c.SnapshotInterval)
	}
	if c.SnapshotRetain < 1 {
		add("raftstore: SnapshotRetain %d must be at least 1", c.SnapshotRetain)
	}
	if c.MaxValueSize < 1 {
		add("raftstore: MaxValueSize %d must be positive", c.MaxValueSize)
	}
	if c.MaxTxnOps < 1 {
		add("raftstore: MaxTxnOps %d must be positive", c.MaxTxnOps)
	}
	if c.MaxTxnBytes < c.MaxValueSize {
		add("raftstore: MaxTxnBytes %d is below MaxValueSize %d", c.MaxTxnBytes, c.MaxValueSize)
	}
	if c.QuotaBytes < int64(c.MaxValueSize) {
		add("raftstore: QuotaBytes %d is below MaxValueSize %d", c.QuotaBytes, c.MaxValueSize)
	}
	if c.RequestTimeout <= 0 {
		add("raftstore: RequestTimeout %s must be positive", c.RequestTimeout)
	}
	if c.DedupEntries < 1 || c.DedupTTL <= 0 {
		add("raftstore: DedupEntries %d and DedupTTL %s must be positive", c.DedupEntries, c.DedupTTL)
	}
	if err := c.Watch.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("raftstore: %w", err))
	}
	if c.CompactionRetention < 0 {
		add("raftstore: CompactionRetention %s must not be negative", c.CompactionRetention)
	}
	if a := c.Autopilot; a.Enabled && (a.Interval <= 0 || a.StabilizationTime < 0 || a.TargetVoters < 0) {
		add("raftstore: Autopilot Interval %s must be positive, StabilizationTime %s and TargetVoters %d not negative",
			a.Interval, a.StabilizationTime, a.TargetVoters)
	}
	return errors.Join(errs...)
}
