package raftstore

import (
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus collectors. They are created for every Store and
// registered only when Config.Registerer is set.
type metrics struct {
	proposeDuration   prometheus.Histogram
	applyDuration     prometheus.Histogram
	fsyncDuration     prometheus.Histogram
	readIndexDuration prometheus.Histogram
	forwardedWrites   prometheus.Counter
	leaderChanges     prometheus.Counter
	fastElections     prometheus.Counter
	invalidEntries    prometheus.Counter
	snapshotRestores  prometheus.Counter
	snapshotBytes     prometheus.Gauge
}

// latencyBuckets spans 100µs to about 6.5s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

func newMetrics() *metrics {
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "capstan", Subsystem: "raftstore", Name: name, Help: help, Buckets: latencyBuckets,
		})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "capstan", Subsystem: "raftstore", Name: name, Help: help})
	}
	return &metrics{
		proposeDuration:   hist("proposal_duration_seconds", "Time from a write's arrival at this member to its result, forwarding included."),
		applyDuration:     hist("apply_duration_seconds", "Time the state machine spends applying one batch of committed entries."),
		fsyncDuration:     hist("log_store_write_duration_seconds", "Time to append and fsync a batch of entries to the Raft log store."),
		readIndexDuration: hist("read_index_duration_seconds", "Time to obtain a linearizable read index and catch up to it."),
		forwardedWrites:   counter("forwarded_writes_total", "Writes this member forwarded to the leader."),
		leaderChanges:     counter("leader_changes_total", "Leadership changes observed by this member."),
		fastElections:     counter("fast_elections_total", "Elections this member stood for at once because the leader's peer port refused connections."),
		invalidEntries:    counter("invalid_entries_total", "Committed entries the state machine could not decode."),
		snapshotRestores:  counter("snapshot_restores_total", "Times this member replaced its state with a snapshot (at start or from the leader)."),
		snapshotBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "capstan", Subsystem: "raftstore", Name: "snapshot_size_bytes", Help: "Size of the last snapshot this member persisted.",
		}),
	}
}

// register registers the collectors and the gauges that read the store's state.
func (s *Store) registerMetrics(reg prometheus.Registerer) error {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "capstan", Subsystem: "raftstore", Name: name, Help: help}, f)
	}
	m := s.metrics
	collectors := []prometheus.Collector{
		m.proposeDuration, m.applyDuration, m.fsyncDuration, m.readIndexDuration,
		m.forwardedWrites, m.leaderChanges, m.fastElections, m.invalidEntries, m.snapshotRestores, m.snapshotBytes,
		gauge("commit_index", "Raft commit index known to this member.", func() float64 { return float64(s.raft.CommitIndex()) }),
		gauge("applied_index", "Revision of the last entry this member's state machine applied.", func() float64 { return float64(s.fsm.revision()) }),
		gauge("compact_revision", "Revision below which history has been compacted.", func() float64 { return float64(s.fsm.currentView().CompactRevision()) }),
		gauge("db_size_bytes", "Bytes of live keys and values (the quota counts these).", func() float64 { return float64(s.fsm.currentView().Size()) }),
		gauge("keys", "Live keys.", func() float64 { return float64(s.fsm.currentView().Len()) }),
		gauge("watchers", "Open watchers on this member.", func() float64 { return float64(s.fsm.hub.Watchers()) }),
		gauge("is_leader", "1 when this member is the Raft leader.", func() float64 {
			if s.raft.State() == raft.Leader {
				return 1
			}
			return 0
		}),
		gauge("term", "Current Raft term.", func() float64 { return float64(s.raft.CurrentTerm()) }),
		gauge("log_size_bytes", "Bytes of the Raft log on disk.", func() float64 { return float64(s.logSize()) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// logSize returns the bytes of the log store's files.
func (s *Store) logSize() int64 {
	if s.cfg.InMemory {
		return 0
	}
	if s.cfg.LogStore == LogStoreBolt {
		return fileSize(filepath.Join(s.cfg.DataDir, "raft.db"))
	}
	var total int64
	entries, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "wal"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	return total
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

// timedLogStore measures the log store's appends, which include the fsync.
type timedLogStore struct {
	raft.LogStore
	hist prometheus.Histogram
}

var _ raft.MonotonicLogStore = (*timedLogStore)(nil)

func (t *timedLogStore) StoreLog(l *raft.Log) error { return t.StoreLogs([]*raft.Log{l}) }

func (t *timedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := t.LogStore.StoreLogs(logs)
	t.hist.Observe(time.Since(start).Seconds())
	return err
}

// IsMonotonic forwards the wrapped store's answer: raft-wal must not be given gaps after a
// snapshot restore, and raft checks this interface to know.
func (t *timedLogStore) IsMonotonic() bool {
	m, ok := t.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
