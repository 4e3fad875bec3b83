package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/capstan-io/capstan/raftstore/mvcc"
)

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	// Revision is the revision the snapshot holds.
	Revision uint64 `json:"revision"`
	// Keys and Bytes count the live keys and their key and value bytes.
	Keys  int   `json:"keys"`
	Bytes int64 `json:"bytes"`
	// Size is the snapshot's encoded size.
	Size int64 `json:"size"`
	// Prefixes breaks Keys and Bytes down by the first two segments of each key, for example
	// "/registry/pods".
	Prefixes []PrefixUsage `json:"prefixes,omitempty"`
}

// PrefixUsage counts the keys under one prefix.
type PrefixUsage struct {
	Prefix string `json:"prefix"`
	Keys   int    `json:"keys"`
	Bytes  int64  `json:"bytes"`
}

// SaveSnapshot writes a consistent snapshot of the whole store to w: it reads at a
// linearizable revision and streams that immutable state, checksummed, without copying it.
func (s *Store) SaveSnapshot(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	v, err := s.view(ctx, ReadOptions{})
	if err != nil {
		return SnapshotInfo{}, err
	}
	n, err := writeSnapshot(w, v, nil)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info := describe(v)
	info.Size = n
	return info, nil
}

// InspectSnapshot reads a snapshot written by SaveSnapshot, verifies its checksum and
// describes it.
func InspectSnapshot(r io.Reader) (SnapshotInfo, error) {
	cr := &countingReader{r: r}
	tree, _, err := readSnapshot(cr)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info := describe(tree.View())
	info.Size = cr.n
	return info, nil
}

// SnapshotKeys reads a snapshot written by SaveSnapshot, verifies its checksum and returns the
// keys under prefix, for tools that prepare a restore (the cluster's identity lives in it).
func SnapshotKeys(r io.Reader, prefix string) ([]KeyValue, error) {
	tree, _, err := readSnapshot(r)
	if err != nil {
		return nil, err
	}
	var out []KeyValue
	err = tree.View().Range(prefix, mvcc.PrefixEnd(prefix), 0, func(kv KeyValue) bool {
		out = append(out, kv)
		return true
	})
	return out, err
}

func describe(v *mvcc.View) SnapshotInfo {
	info := SnapshotInfo{Revision: v.Revision(), Keys: v.Len(), Bytes: v.Size()}
	byPrefix := map[string]*PrefixUsage{}
	_ = v.Range("", "", 0, func(kv KeyValue) bool {
		p := keyGroup(kv.Key)
		u := byPrefix[p]
		if u == nil {
			u = &PrefixUsage{Prefix: p}
			byPrefix[p] = u
		}
		u.Keys++
		u.Bytes += int64(len(kv.Key) + len(kv.Value))
		return true
	})
	for _, u := range byPrefix {
		info.Prefixes = append(info.Prefixes, *u)
	}
	sort.Slice(info.Prefixes, func(i, j int) bool { return info.Prefixes[i].Prefix < info.Prefixes[j].Prefix })
	return info
}

// keyGroup returns the first two segments of a key: "/registry/pods/ns/x" -> "/registry/pods".
func keyGroup(key string) string {
	rest := strings.TrimPrefix(key, "/")
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return key
	}
	return "/" + parts[0] + "/" + parts[1]
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// DefaultRevisionBump is how far RestoreSnapshot moves revisions past the snapshot's, so that
// revisions a client saw after the snapshot was taken are not handed out again.
const DefaultRevisionBump = 1_000_000

// RestoreSnapshot prepares cfg.DataDir, which must not hold Raft state, as the first member of
// a new cluster whose state is the snapshot read from r. The new cluster's revisions start
// bump above the snapshot's (revisions never go backwards), and its history starts there, so
// watches and lists from older revisions get ErrCompacted. Open the store with cfg afterwards
// (Bootstrap is not needed); other members join it as usual.
func RestoreSnapshot(r io.Reader, cfg Config, bump uint64) (SnapshotInfo, error) {
	if cfg.InMemory {
		return SnapshotInfo{}, errors.New("raftstore: cannot restore into an in-memory store")
	}
	if err := cfg.Validate(); err != nil {
		return SnapshotInfo{}, err
	}
	if cfg.AdvertiseAddr == "" {
		return SnapshotInfo{}, errors.New("raftstore: AdvertiseAddr is required to restore a snapshot")
	}
	tree, _, err := readSnapshot(r)
	if err != nil {
		return SnapshotInfo{}, err
	}
	s := &Store{cfg: cfg, log: discardLogger(cfg), metrics: newMetrics()}
	defer s.closeResources()
	logs, stable, snaps, err := s.openStorage()
	if err != nil {
		return SnapshotInfo{}, err
	}
	if has, err := raft.HasExistingState(logs, stable, snaps); err != nil || has {
		return SnapshotInfo{}, fmt.Errorf("raftstore: data dir %s already holds Raft state; restore into an empty one", cfg.DataDir)
	}
	index := tree.Revision() + bump
	tree.SetRevision(index)
	tree.SetCompacted(index)
	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, tree.View(), nil); err != nil {
		return SnapshotInfo{}, err
	}
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(cfg.AdvertiseAddr)}}}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.AdvertiseAddr))
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, conf, 1, trans)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("raftstore: create snapshot: %w", err)
	}
	if _, err := sink.Write(buf.Bytes()); err != nil {
		_ = sink.Cancel()
		return SnapshotInfo{}, fmt.Errorf("raftstore: write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return SnapshotInfo{}, fmt.Errorf("raftstore: write snapshot: %w", err)
	}
	if err := stable.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		return SnapshotInfo{}, fmt.Errorf("raftstore: write term: %w", err)
	}
	info := describe(tree.View())
	info.Size = int64(buf.Len())
	return info, nil
}

// Recover rewrites the Raft configuration of a stopped member after the cluster lost quorum,
// so that it starts as the only voter of a cluster that keeps its data; other members then
// join it afresh. It refuses with ErrClusterHealthy when a quorum of the old configuration
// still answers on the peer port. The member must not be running.
func Recover(ctx context.Context, cfg Config) error {
	if cfg.InMemory {
		return errors.New("raftstore: cannot recover an in-memory store")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, memberFileName)); err != nil {
		return fmt.Errorf("raftstore: %s is not a member's data dir: %w", cfg.DataDir, err)
	}
	if cfg.AdvertiseAddr == "" {
		return errors.New("raftstore: AdvertiseAddr is required to recover")
	}
	s := &Store{cfg: cfg, log: discardLogger(cfg), metrics: newMetrics()}
	defer s.closeResources()
	logs, stable, snaps, err := s.openStorage()
	if err != nil {
		return fmt.Errorf("%w (is the member still running?)", err)
	}
	f, err := newFSM(s.log, s.metrics, cfg.Watch, func(error) {})
	if err != nil {
		return err
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.AdvertiseAddr))
	old, err := raft.GetConfiguration(s.raftConfig(newRaftLogger(s.log)), f, logs, stable, snaps, trans)
	if err != nil {
		return fmt.Errorf("raftstore: read the configuration: %w", err)
	}
	if err := checkQuorumLost(ctx, cfg, old); err != nil {
		return err
	}
	f, _ = newFSM(s.log, s.metrics, cfg.Watch, func(error) {})
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(cfg.AdvertiseAddr)}}}
	if err := raft.RecoverCluster(s.raftConfig(newRaftLogger(s.log)), f, logs, stable, snaps, trans, conf); err != nil {
		return fmt.Errorf("raftstore: recover: %w", err)
	}
	return nil
}

// checkQuorumLost asks the other voters of conf for their status; enough answers to form a
// quorum (with this stopped member not counted) mean the cluster is healthy.
func checkQuorumLost(ctx context.Context, cfg Config, conf raft.Configuration) error {
	peers := newPeerClients(cfg.ClientTLS)
	defer peers.close()
	voters, alive := 0, 0
	var answered []string
	for _, srv := range conf.Servers {
		if srv.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(srv.ID) == cfg.NodeID {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, statusTimeout)
		_, err := peers.call(cctx, string(srv.Address), methodStatus, nil)
		cancel()
		if err == nil {
			alive++
			answered = append(answered, string(srv.ID))
		}
	}
	if alive >= voters/2+1 {
		return fmt.Errorf("%w: %d of %d voters answer (%s); remove or replace members instead",
			ErrClusterHealthy, alive, voters, strings.Join(answered, ", "))
	}
	return nil
}

func discardLogger(cfg Config) *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}
