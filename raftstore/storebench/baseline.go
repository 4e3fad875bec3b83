package storebench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	walmeta "github.com/hashicorp/raft-wal/metadb"

	"github.com/capstan-io/capstan/raftstore"
)

// RunBaseline measures bare hashicorp/raft with a state machine that only counts entries, on
// the same log store, timeouts and machine, so Run's figures can be read against it: the
// difference is what raftstore's MVCC index, watch hub, deduplication and request path cost.
func RunBaseline(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "capstan-bench-baseline-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(dir)
	nodes, err := startBareCluster(dir, cfg)
	defer func() {
		for _, n := range nodes {
			n.close()
		}
	}()
	if err != nil {
		return Report{}, err
	}
	var leader *raft.Raft
	for leader == nil {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				leader = n.raft
			}
		}
		select {
		case <-ctx.Done():
			return Report{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := leader.Barrier(10 * time.Second).Error(); err != nil {
		return Report{}, err
	}
	rep := Report{Members: cfg.Members, LogStore: cfg.LogStore + " (bare raft)", ValueSize: cfg.ValueSize, Duration: cfg.Duration.String()}
	value := make([]byte, cfg.ValueSize)
	for _, n := range cfg.Concurrency {
		r := Measure(ctx, "write", n, cfg.Duration, func(context.Context, int) error {
			return leader.Apply(value, 10*time.Second).Error()
		})
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

type bareNode struct {
	raft    *raft.Raft
	closers []io.Closer
}

func (n *bareNode) close() {
	if n.raft != nil {
		_ = n.raft.Shutdown().Error()
	}
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i].Close()
	}
}

// countingFSM is the trivial state machine of the baseline.
type countingFSM struct{ n atomic.Uint64 }

func (f *countingFSM) Apply(*raft.Log) any                 { f.n.Add(1); return nil }
func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) { return countSnapshot{}, nil }
func (f *countingFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type countSnapshot struct{}

func (countSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (countSnapshot) Release()                             {}

func startBareCluster(dir string, cfg Config) ([]*bareNode, error) {
	var nodes []*bareNode
	var servers []raft.Server
	transports := make([]*raft.NetworkTransport, cfg.Members)
	for i := range cfg.Members {
		t, err := raft.NewTCPTransport("127.0.0.1:0", nil, 4, 10*time.Second, io.Discard)
		if err != nil {
			return nodes, err
		}
		transports[i] = t
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(fmt.Sprint("bare", i)), Address: t.LocalAddr()})
	}
	def := raftstore.DefaultConfig()
	for i := range cfg.Members {
		n := &bareNode{closers: []io.Closer{transports[i]}}
		nodes = append(nodes, n)
		d := filepath.Join(dir, fmt.Sprint("bare", i))
		if err := os.MkdirAll(filepath.Join(d, "wal"), 0o700); err != nil {
			return nodes, err
		}
		bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(d, "raft.db")})
		if err != nil {
			return nodes, err
		}
		n.closers = append(n.closers, bolt)
		var logs raft.LogStore = bolt
		if cfg.LogStore == raftstore.LogStoreWAL {
			meta := &walmeta.BoltMetaDB{}
			n.closers = append(n.closers, meta)
			w, err := raftwal.Open(filepath.Join(d, "wal"), raftwal.WithMetaStore(meta))
			if err != nil {
				return nodes, err
			}
			n.closers = append(n.closers, w)
			logs = w
		}
		rc := raft.DefaultConfig()
		rc.LocalID = servers[i].ID
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = def.HeartbeatTimeout, def.ElectionTimeout, def.LeaderLeaseTimeout
		rc.CommitTimeout, rc.MaxAppendEntries, rc.BatchApplyCh = def.CommitTimeout, def.MaxAppendEntries, true
		rc.Logger = hclog.NewNullLogger()
		snaps := raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(rc, logs, bolt, snaps, transports[i], raft.Configuration{Servers: servers}); err != nil {
			return nodes, err
		}
		// A log cache, as raftstore (and Consul) put in front of the log store.
		cached, err := raft.NewLogCache(1024, logs)
		if err != nil {
			return nodes, err
		}
		logs = cached
		r, err := raft.NewRaft(rc, &countingFSM{}, logs, bolt, snaps, transports[i])
		if err != nil {
			return nodes, err
		}
		n.raft = r
	}
	return nodes, nil
}
