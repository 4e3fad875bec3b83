package raftstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raftwal "github.com/hashicorp/raft-wal"
	walmeta "github.com/hashicorp/raft-wal/metadb"

	"github.com/capstan-io/capstan/raftstore/internal/mux"
	"github.com/capstan-io/capstan/raftstore/internal/rpc"
)

// Protocol bytes of the peer port.
const (
	protoRaft byte = 'R'
	protoRPC  byte = 'P'
)

// Store is one member of the replicated store. Its methods are safe for concurrent use.
type Store struct {
	cfg       Config
	log       *slog.Logger
	metrics   *metrics
	fsm       *fsm
	raft      *raft.Raft
	transport *raft.NetworkTransport
	listener  *mux.Listener
	advertise string
	peers     *peerClients
	closers   []io.Closer // log and stable stores, closed last

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines

	// readyTerm is the last term in which this member, as leader, completed a Barrier.
	readyTerm atomic.Uint64
	// fence is the fence this member wrote as leader of its last term.
	fence    atomic.Pointer[leaderFence]
	verifyCh chan chan error // read-index leadership checks, batched by verifyLoop
	// raftCtx ends the loops that wait on Raft futures (spawnRaftClient): at Close, or
	// when the state machine halts. It is a child of ctx.
	raftCtx      context.Context
	stopRaftCtx  context.CancelFunc
	raftClientMu sync.Mutex // protects raftClientsStopped and raftClients.Add
	// raftClientsStopped is set once no loop may start; raftClients tracks the running
	// ones, which Raft must outlive.
	raftClientsStopped bool
	raftClients        sync.WaitGroup

	leaderMu     sync.Mutex    // protects leaderChange
	leaderChange chan struct{} // closed and replaced on every leadership observation

	// autopilotRounds counts completed autopilot checks, so tests can wait for a round.
	autopilotRounds atomic.Int64

	tasksMu sync.Mutex // protects tasks and leading
	tasks   []func(ctx context.Context)
	// leading is the running term's task starter while this member is a ready leader; tasks
	// registered meanwhile start at once.
	leading func(task func(ctx context.Context))

	closeOnce sync.Once
	closeErr  error
}

// memberFile records what a data directory belongs to, so a restart with the wrong ID or log
// store fails loudly instead of corrupting state.
type memberFile struct {
	NodeID   string `json:"nodeID"`
	LogStore string `json:"logStore"`
}

const memberFileName = "member.json"

// Open starts a member. It returns once Raft is running; a new member has no leader until it
// bootstraps or is added to a cluster.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("member", cfg.NodeID)
	s := &Store{cfg: cfg, log: log, metrics: newMetrics(), verifyCh: make(chan chan error, 1024), leaderChange: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.raftCtx, s.stopRaftCtx = context.WithCancel(s.ctx)
	ok := false
	defer func() {
		if !ok {
			s.cancel()
			s.closeResources()
		}
	}()

	f, err := newFSM(log, s.metrics, cfg.Watch, s.halt)
	if err != nil {
		return nil, err
	}
	s.fsm = f

	logs, stable, snaps, err := s.openStorage()
	if err != nil {
		return nil, err
	}

	s.listener, err = mux.Listen(cfg.BindAddr, cfg.ServerTLS, log)
	if err != nil {
		return nil, err
	}
	s.advertise, err = advertiseAddr(cfg.AdvertiseAddr, s.listener.Addr())
	if err != nil {
		return nil, err
	}
	advertise, err := net.ResolveTCPAddr("tcp", s.advertise)
	if err != nil {
		return nil, fmt.Errorf("raftstore: advertise address %q: %w", s.advertise, err)
	}
	hlog := newRaftLogger(log)
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{Listener: s.listener.Handle(protoRaft), advertise: advertise, tls: cfg.ClientTLS},
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  hlog.Named("transport"),
	})
	s.peers = newPeerClients(cfg.ClientTLS)

	rc := s.raftConfig(hlog)
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, stable, snaps)
		if err != nil {
			return nil, fmt.Errorf("raftstore: check existing state: %w", err)
		}
		if !has {
			boot := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(s.advertise)}}}
			if err := raft.BootstrapCluster(rc, logs, stable, snaps, s.transport, boot); err != nil {
				return nil, fmt.Errorf("raftstore: bootstrap: %w", err)
			}
			log.Info("bootstrapped a new cluster", "address", s.advertise)
		}
	}

	observations := make(chan raft.Observation, 64)
	s.raft, err = raft.NewRaft(rc, f, logs, stable, snaps, s.transport)
	if err != nil {
		return nil, fmt.Errorf("raftstore: start raft: %w", err)
	}
	s.raft.RegisterObserver(raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	}))

	s.spawn(func() {
		if err := s.listener.Serve(); err != nil {
			log.Error("peer listener stopped", "error", err)
		}
	})
	server := rpc.NewServer(s.rpcHandlers())
	rpcListener := s.listener.Handle(protoRPC)
	s.spawn(func() { _ = server.Serve(s.ctx, rpcListener) })
	s.spawnRaftClient(func() { s.leadershipLoop(observations) })
	s.spawnRaftClient(s.verifyLoop)
	if cfg.FastFailover {
		s.spawnRaftClient(s.failoverLoop)
	}

	if cfg.Registerer != nil {
		if err := s.registerMetrics(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("raftstore: register metrics: %w", err)
		}
	}
	ok = true
	log.Info("member started", "address", s.advertise, "logStore", cfg.LogStore, "inMemory", cfg.InMemory)
	return s, nil
}

func (s *Store) raftConfig(hlog hclog.Logger) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(s.cfg.NodeID)
	c.HeartbeatTimeout = s.cfg.HeartbeatTimeout
	c.ElectionTimeout = s.cfg.ElectionTimeout
	c.LeaderLeaseTimeout = s.cfg.LeaderLeaseTimeout
	c.CommitTimeout = s.cfg.CommitTimeout
	c.MaxAppendEntries = s.cfg.MaxAppendEntries
	c.BatchApplyCh = true
	c.SnapshotThreshold = s.cfg.SnapshotThreshold
	c.SnapshotInterval = s.cfg.SnapshotInterval
	c.TrailingLogs = s.cfg.TrailingLogs
	c.Logger = hlog
	return c
}

// openStorage opens the log store, stable store and snapshot store.
func (s *Store) openStorage() (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	cfg := s.cfg
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		return &timedLogStore{LogStore: mem, hist: s.metrics.fsyncDuration}, mem, raft.NewInmemSnapshotStore(), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("raftstore: create data dir: %w", err)
	}
	if err := checkMemberFile(cfg); err != nil {
		return nil, nil, nil, err
	}
	hlog := newRaftLogger(s.log)
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, boltFileName(cfg.LogStore))})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raftstore: open stable store: %w", err)
	}
	s.closers = append(s.closers, bolt)
	var logs raft.LogStore = bolt
	if cfg.LogStore == LogStoreWAL {
		dir := filepath.Join(cfg.DataDir, "wal")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, nil, fmt.Errorf("raftstore: create wal dir: %w", err)
		}
		// raft-wal's Close leaves its meta database (and its file lock) open, so the store
		// owns the meta database and closes it after the WAL.
		meta := &walmeta.BoltMetaDB{}
		s.closers = append(s.closers, meta)
		w, err := raftwal.Open(dir, raftwal.WithLogger(hlog.Named("wal")), raftwal.WithMetaStore(meta))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("raftstore: open wal: %w", err)
		}
		s.closers = append(s.closers, w)
		logs = w
	}
	cached, err := raft.NewLogCache(1024, &timedLogStore{LogStore: logs, hist: s.metrics.fsyncDuration})
	if err != nil {
		return nil, nil, nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hlog.Named("snapshots"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raftstore: open snapshot store: %w", err)
	}
	return cached, bolt, snaps, nil
}

// boltFileName is the bolt file: it holds the log too with the boltdb log store.
func boltFileName(logStore string) string {
	if logStore == LogStoreBolt {
		return "raft.db"
	}
	return "stable.db"
}

// checkMemberFile writes the member file of a new data dir, or checks an existing one.
func checkMemberFile(cfg Config) error {
	path := filepath.Join(cfg.DataDir, memberFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, _ := json.Marshal(memberFile{NodeID: cfg.NodeID, LogStore: cfg.LogStore})
		return writeFileAtomic(path, data)
	}
	if err != nil {
		return fmt.Errorf("raftstore: read %s: %w", path, err)
	}
	var m memberFile
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("raftstore: %s is corrupt: %w", path, err)
	}
	if m.NodeID != cfg.NodeID {
		return fmt.Errorf("raftstore: data dir %s belongs to member %q, not %q", cfg.DataDir, m.NodeID, cfg.NodeID)
	}
	if m.LogStore != cfg.LogStore {
		return fmt.Errorf("raftstore: data dir %s was created with log store %q; it cannot be opened with %q", cfg.DataDir, m.LogStore, cfg.LogStore)
	}
	return nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func advertiseAddr(configured string, bound net.Addr) (string, error) {
	if configured != "" {
		return configured, nil
	}
	tcp, ok := bound.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("raftstore: listening on %s: set AdvertiseAddr to an address other members can dial", bound)
	}
	return tcp.String(), nil
}

// spawn runs fn on a goroutine that Close waits for.
func (s *Store) spawn(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// spawnRaftClient runs fn, a loop that makes Raft requests and returns once raftCtx ends, on
// a goroutine that stopRaft waits for before it stops Raft. hashicorp/raft (v1.7.3) queues
// VerifyLeader and, with BatchApplyCh, Apply and Barrier requests on buffered channels; a
// request queued as Raft stops is read by none of its loops and its future never completes,
// so a loop waiting on one would block Close forever. A request made while Raft runs is
// always answered, since each of Raft's loops answers them. Once Raft is stopping, fn is
// not run.
func (s *Store) spawnRaftClient(fn func()) {
	s.raftClientMu.Lock()
	defer s.raftClientMu.Unlock()
	if s.raftClientsStopped {
		return
	}
	s.raftClients.Add(1)
	s.spawn(func() {
		defer s.raftClients.Done()
		fn()
	})
}

// stopRaft ends the loops that make Raft requests, waits for them, then stops Raft: the only
// order in which no request can be left unanswered (see spawnRaftClient). Close and a halt
// both stop Raft this way; the second call waits for the first.
func (s *Store) stopRaft() error {
	s.raftClientMu.Lock()
	s.raftClientsStopped = true
	s.raftClientMu.Unlock()
	s.stopRaftCtx()
	s.raftClients.Wait()
	return s.raft.Shutdown().Error()
}

// raftStopped is the error for a request that found the Raft loops stopped.
func (s *Store) raftStopped() error {
	if s.ctx.Err() != nil {
		return ErrStopped
	}
	return ErrHalted
}

// halt is called by the state machine when it can no longer apply entries: the member leaves
// the cluster's work to the others rather than diverge from them.
func (s *Store) halt(err error) {
	s.log.Error("state machine halted; shutting Raft down", "error", err)
	s.spawn(func() { _ = s.stopRaft() })
}

// NodeID returns the member's ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// Addr returns the member's advertised peer address.
func (s *Store) Addr() string { return s.advertise }

// IsLeader reports whether this member is the Raft leader.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the current leader's ID and peer address, empty when there is none.
func (s *Store) Leader() (id, addr string) {
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// Revision returns the revision of the state this member has applied.
func (s *Store) Revision() uint64 { return s.fsm.revision() }

// Hash returns the revision of the local state and a hash of it; members at the same revision
// have the same hash.
func (s *Store) Hash() (uint64, [32]byte) {
	v := s.fsm.currentView()
	return v.Revision(), v.Hash()
}

// fenceKey is rewritten by every leader once its term's barrier is done.
const fenceKey = SystemPrefix + "leader"

// leaderFence is the revision at which a leader wrote the fence key in its term.
type leaderFence struct {
	term, rev uint64
}

// LeaderFence returns a compare that holds only until another leader takes over: add it to
// writes made on behalf of this leader (its controllers), so a deposed leader's late writes
// fail instead of landing. ok is false when this member is not a ready leader.
func (s *Store) LeaderFence() (c Compare, ok bool) {
	f := s.fence.Load()
	if f == nil || s.raft.State() != raft.Leader || s.raft.CurrentTerm() != f.term || s.readyTerm.Load() != f.term {
		return Compare{}, false
	}
	return ModRevisionIs(fenceKey, f.rev), true
}

// WaitLeader blocks until the cluster has a leader that has completed its barrier, or ctx ends.
func (s *Store) WaitLeader(ctx context.Context) error {
	for {
		changed := s.leaderChanged()
		if s.raft.State() == raft.Leader && s.readyTerm.Load() == s.raft.CurrentTerm() {
			return nil
		}
		if _, addr := s.Leader(); addr != "" && s.raft.State() != raft.Leader {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrNoLeader, ctx.Err())
		case <-s.ctx.Done():
			return ErrStopped
		case <-changed:
		case <-time.After(s.cfg.HeartbeatTimeout / 5):
		}
	}
}

// WhileLeader registers task to run whenever this member is a ready leader: it is started
// after the new leader's barrier, with a context that ends when leadership is lost or the store
// closes. The store waits for it to return before a later term starts it again.
func (s *Store) WhileLeader(task func(ctx context.Context)) {
	s.tasksMu.Lock()
	defer s.tasksMu.Unlock()
	s.tasks = append(s.tasks, task)
	if s.leading != nil {
		s.leading(task)
	}
}

func (s *Store) leaderChanged() <-chan struct{} {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	return s.leaderChange
}

func (s *Store) notifyLeaderChange() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	close(s.leaderChange)
	s.leaderChange = make(chan struct{})
}

// leaderTerm is a running leadership term: its barrier and leader tasks.
type leaderTerm struct {
	term   uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// startTerm starts lead for term on its own goroutine.
func (s *Store) startTerm(term uint64) *leaderTerm {
	ctx, cancel := context.WithCancel(s.raftCtx)
	lt := &leaderTerm{term: term, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(lt.done)
		s.lead(ctx, term)
	}()
	return lt
}

// stop ends the term and waits for its tasks to return.
func (lt *leaderTerm) stop() {
	if lt != nil {
		lt.cancel()
		<-lt.done
	}
}

// leadershipLoop follows leadership: it starts a term's barrier and leader tasks when this
// member becomes leader and stops them the moment it is not. Observations can be dropped, so it
// also re-checks on a ticker. It exits at Close.
func (s *Store) leadershipLoop(observations <-chan raft.Observation) {
	var current *leaderTerm
	defer func() { current.stop() }()
	tick := time.NewTicker(s.cfg.HeartbeatTimeout / 2)
	defer tick.Stop()
	lastLeader := ""
	for {
		select {
		case <-s.raftCtx.Done():
			return
		case <-observations:
		case <-tick.C:
		}
		if _, addr := s.Leader(); addr != lastLeader {
			lastLeader = addr
			s.metrics.leaderChanges.Inc()
		}
		s.notifyLeaderChange()
		leader, term := s.raft.State() == raft.Leader, s.raft.CurrentTerm()
		if leader && current != nil && current.term == term {
			continue
		}
		current.stop()
		current = nil
		if leader {
			current = s.startTerm(term)
		}
	}
}

// lead runs one leadership term: the barrier, then the leader tasks until ctx ends.
func (s *Store) lead(ctx context.Context, term uint64) {
	if err := s.raft.Barrier(s.cfg.ElectionTimeout * 10).Error(); err != nil {
		if ctx.Err() == nil && s.raft.State() == raft.Leader {
			s.log.Error("leader barrier failed; transferring leadership", "term", term, "error", err)
			_ = s.raft.LeadershipTransfer().Error()
		}
		return
	}
	if ctx.Err() != nil || s.raft.CurrentTerm() != term {
		return
	}
	// The fence: a key every new leader rewrites, whose revision guards its own term's writes.
	res, err := s.Txn(ctx, Txn{Ops: []Op{Put(fenceKey, []byte(fmt.Sprintf(`{"leader":%q,"term":%d}`, s.cfg.NodeID, term)))}})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("could not write the leader fence; transferring leadership", "term", term, "error", err)
			_ = s.raft.LeadershipTransfer().Error()
		}
		return
	}
	s.fence.Store(&leaderFence{term: term, rev: res.Revision})
	s.readyTerm.Store(term)
	s.notifyLeaderChange()
	s.log.Info("leading", "term", term, "revision", s.fsm.revision())

	var wg sync.WaitGroup
	start := func(task func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			task(ctx)
		}()
	}
	s.tasksMu.Lock()
	for _, task := range append([]func(context.Context){s.autopilot, s.compactor}, s.tasks...) {
		start(task)
	}
	s.leading = start
	s.tasksMu.Unlock()
	<-ctx.Done()
	s.tasksMu.Lock()
	s.leading = nil
	s.tasksMu.Unlock()
	wg.Wait()
}

// Close leaves the cluster's work to the others: a leader first transfers leadership, then
// Raft stops, watchers end and storage closes. It is safe to call more than once.
func (s *Store) Close() error { return s.shutdown(true) }

// Abort stops the member the way a crash looks to the others: without handing leadership
// over. Tests and chaos tooling use it; operators use Close.
func (s *Store) Abort() error { return s.shutdown(false) }

// shutdown stops the member; with transfer a leader first hands leadership over. Tests use
// shutdown(false) to stop a member the way a crash would, as far as the others can tell.
func (s *Store) shutdown(transfer bool) error {
	s.closeOnce.Do(func() {
		if transfer && s.raft.State() == raft.Leader && s.hasOtherVoters() {
			if err := s.raft.LeadershipTransfer().Error(); err != nil {
				s.log.Warn("leadership transfer before shutdown failed", "error", err)
			}
		}
		s.cancel()
		if err := s.stopRaft(); err != nil {
			s.closeErr = err
		}
		s.closeResources()
		s.fsm.hub.Close() // ends every watcher
	})
	return s.closeErr
}

// closeResources closes everything Open created, in reverse order, and waits for goroutines.
func (s *Store) closeResources() {
	if s.transport != nil {
		s.transport.Close()
	}
	if s.listener != nil {
		s.listener.Close()
	}
	s.wg.Wait()
	if s.peers != nil {
		s.peers.close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	}
}

func (s *Store) hasOtherVoters() bool {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && srv.ID != raft.ServerID(s.cfg.NodeID) {
			return true
		}
	}
	return false
}

// newRequestID returns a random request ID.
func newRequestID() requestID {
	var id requestID
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("raftstore: read random request ID: %v", err))
	}
	return id
}

// streamLayer is Raft's view of the peer port.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	tls       *tls.Config
}

// Addr returns the advertised address, which Raft records in the configuration.
func (l *streamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to another member's Raft protocol.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return mux.Dial(string(address), protoRaft, l.tls, timeout)
}
