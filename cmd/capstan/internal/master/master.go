package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/nodeagent/gossip"
	"github.com/capstan-io/capstan/raftstore"
)

// Master is a running master.
type Master struct {
	cfg       Config
	log       *slog.Logger
	id        *identity
	store     *raftstore.Store
	api       *apiserver.Server
	http      *http.Server
	endpoints Endpoints
	serviceIP net.IP
	gossip    atomic.Pointer[gossip.Gossip]

	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines, joined by Shutdown
	once   sync.Once
}

// Start starts a master: it bootstraps a cluster, joins one or resumes the member its data
// directory holds, and returns once the API is being served.
func Start(ctx context.Context, cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("master", cfg.Name)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	m := &Master{cfg: cfg, log: log}
	prefix, _ := netip.ParsePrefix(cfg.ServiceCIDR)
	first := prefix.Masked().Addr().Next()
	m.serviceIP = net.IP(first.AsSlice())

	// Ports chosen at random (0) are fixed before anything records them.
	apiLn, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.APIPort)))
	if err != nil {
		return nil, fmt.Errorf("listen for the API on port %d: %w", cfg.APIPort, err)
	}
	ok := false
	defer func() {
		if !ok {
			apiLn.Close()
			if m.store != nil {
				m.store.Close()
			}
		}
	}()
	m.cfg.APIPort = apiLn.Addr().(*net.TCPAddr).Port
	if m.cfg.PeerPort == 0 {
		if m.cfg.PeerPort, err = freePort(cfg.BindAddress); err != nil {
			return nil, err
		}
	}
	if m.cfg.GossipPort == 0 {
		if m.cfg.GossipPort, err = freePort(cfg.BindAddress); err != nil {
			return nil, err
		}
	}
	cfg = m.cfg
	peerAddr := cfg.PeerAddress()

	id, exists, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var secrets *clusterSecrets
	switch {
	case exists:
		if cfg.Bootstrap {
			log.Info("data dir already holds a member; ignoring --bootstrap")
		}
	case cfg.Bootstrap:
		if secrets, err = newClusterSecrets(); err != nil {
			return nil, err
		}
		sc, sk, pc, pk, err := issueMasterCerts(secrets.ca, &cfg, m.serviceIP)
		if err != nil {
			return nil, err
		}
		id = &identity{dir: pkiDir(cfg.DataDir), caPEM: secrets.ca.CertPEM}
		if err := id.save(sc, sk, pc, pk); err != nil {
			return nil, err
		}
	case cfg.Join != "":
		if id, err = joinCluster(ctx, &cfg, peerAddr, m.serviceIP, log); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("data dir %s holds no member: pass --bootstrap to start a cluster, or --join https://MASTER:6443 --token TOKEN to join one", cfg.DataDir)
	}
	m.id = id
	if err := m.saveSettings(); err != nil {
		return nil, err
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sc := storeConfig(&cfg, id)
	sc.AdvertiseAddr = peerAddr // may differ from the bound port (--advertise-peer-port)
	sc.Bootstrap = cfg.Bootstrap && !exists
	sc.HeartbeatTimeout, sc.ElectionTimeout = cfg.HeartbeatTimeout, cfg.ElectionTimeout
	sc.LeaderLeaseTimeout = min(sc.LeaderLeaseTimeout, cfg.HeartbeatTimeout/2)
	sc.CommitTimeout = min(sc.CommitTimeout, cfg.HeartbeatTimeout/4)
	sc.FastFailover = !cfg.DisableFastFailover
	sc.SnapshotThreshold, sc.QuotaBytes = cfg.SnapshotThreshold, cfg.QuotaBytes
	sc.TrailingLogs, sc.SnapshotInterval = cfg.TrailingLogs, cfg.SnapshotInterval
	sc.Logger, sc.Registerer = log, metrics
	if m.store, err = raftstore.Open(sc); err != nil {
		return nil, err
	}

	bgCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if secrets != nil {
		if err := m.finishBootstrap(ctx, secrets); err != nil {
			cancel()
			return nil, err
		}
	}
	if exists {
		m.spawn(func() { m.updateOwnAddress(bgCtx, peerAddr) })
		m.spawn(func() { m.renewCertificates(bgCtx) })
		m.spawn(func() { m.storePendingJoinToken(bgCtx) })
	}

	if err := m.startAPI(apiLn, metrics); err != nil {
		cancel()
		return nil, err
	}
	m.spawn(func() { _ = m.api.Run(bgCtx) })
	m.store.WhileLeader(m.leaderTasks)
	if !cfg.DisableControllers {
		m.store.WhileLeader(m.runControllers)
	}
	m.endpoints = Endpoints{Name: cfg.Name, APIURL: fmt.Sprintf("https://%s", net.JoinHostPort(cfg.Advertise, strconv.Itoa(cfg.APIPort))), PeerAddress: peerAddr, PID: os.Getpid()}
	m.spawn(func() { m.register(bgCtx) })
	m.spawn(func() {
		g, err := m.startGossip(bgCtx)
		if err != nil {
			if bgCtx.Err() == nil {
				m.log.Error("gossip did not start", "error", err)
			}
			return
		}
		m.gossip.Store(g)
		defer g.Leave(time.Second)
		m.keepGossiping(bgCtx, g)
	})

	data, _ := json.MarshalIndent(m.endpoints, "", "  ")
	if err := pki.WriteFileAtomic(filepath.Join(cfg.DataDir, EndpointsFile), data, 0o644); err != nil {
		cancel()
		return nil, err
	}
	ok = true
	log.Info("master started", "api", m.endpoints.APIURL, "peer", peerAddr)
	return m, nil
}

// Endpoints returns where the master can be reached.
func (m *Master) Endpoints() Endpoints { return m.endpoints }

// Store returns the master's store member.
func (m *Master) Store() *raftstore.Store { return m.store }

// API returns the master's API server.
func (m *Master) API() *apiserver.Server { return m.api }

func (m *Master) spawn(fn func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		fn()
	}()
}

// saveSettings persists the configuration a restart with only --data-dir needs.
func (m *Master) saveSettings() error {
	data, err := json.MarshalIndent(m.cfg, "", "  ")
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(filepath.Join(m.cfg.DataDir, settingsFile), data, 0o600)
}

// finishBootstrap stores the new cluster's identity and writes the operator's credentials.
func (m *Master) finishBootstrap(ctx context.Context, s *clusterSecrets) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := m.store.WaitLeader(wctx); err != nil {
		return err
	}
	if err := storeSecrets(wctx, m.store, s); err != nil {
		return err
	}
	server := fmt.Sprintf("https://%s", net.JoinHostPort(m.cfg.Advertise, strconv.Itoa(m.cfg.APIPort)))
	if err := pki.WriteKubeconfig(pki.Kubeconfig{
		Path: filepath.Join(m.cfg.DataDir, AdminKubeconfigFile), ClusterName: "capstan", Server: server,
		CAPEM: s.ca.CertPEM, Token: s.adminToken, Namespace: "default",
	}); err != nil {
		return fmt.Errorf("write admin kubeconfig: %w", err)
	}
	if err := pki.WriteFileAtomic(filepath.Join(m.cfg.DataDir, JoinTokenFile), []byte(s.joinToken+"\n"), 0o600); err != nil {
		return fmt.Errorf("write join token: %w", err)
	}
	m.log.Info("bootstrapped a new cluster", "adminKubeconfig", filepath.Join(m.cfg.DataDir, AdminKubeconfigFile))
	return nil
}

// startAPI builds the API server and serves it, with the join endpoint beside it.
func (m *Master) startAPI(ln net.Listener, metrics *prometheus.Registry) error {
	ac := apiserver.DefaultConfig()
	ac.Backend = m.store
	ac.RBAC = true
	ac.Authenticator = apiserver.Authenticators{&storeTokens{store: m.store}, apiserver.CertAuthenticator{}}
	ac.Metrics = metrics
	ac.Logger = m.log
	ac.Resources.ServiceCIDR, _ = netip.ParsePrefix(m.cfg.ServiceCIDR)
	ac.Resources.NodePortMin, ac.Resources.NodePortMax, _ = parsePortRange(m.cfg.NodePortRange)
	ac.Resources.DefaultTolerationSeconds = m.cfg.DefaultTolerationSeconds
	ac.Kubelet = &apiserver.KubeletConfig{TLS: m.kubeletTLS()}
	ac.Ready = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := m.store.ReadIndex(ctx)
		return err
	}
	api, err := apiserver.New(ac)
	if err != nil {
		return err
	}
	m.api = api
	m.installAdmin()
	mux := http.NewServeMux()
	mux.HandleFunc(adminapi.PathJoin, m.serveJoin)
	mux.Handle("/", api.Handler())
	m.http = &http.Server{Handler: mux, TLSConfig: m.id.apiTLS(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
	m.spawn(func() {
		if err := m.http.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("API server stopped", "error", err)
		}
	})
	return nil
}

// register records where this master is, for joiners, agents and the kubernetes service.
func (m *Master) register(ctx context.Context) {
	rec, _ := json.Marshal(masterRecord{Name: m.cfg.Name, APIURL: m.endpoints.APIURL, PeerAddress: m.endpoints.PeerAddress,
		GossipAddress: gossipAddress(m.cfg.Advertise, m.cfg.GossipPort)})
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := m.store.Txn(wctx, raftstore.Txn{Ops: []raftstore.Op{raftstore.Put(keyMasters+m.cfg.Name, rec)}})
		cancel()
		if err == nil {
			return
		}
		m.log.Debug("could not register the master yet", "error", err)
		sleepCtx(ctx, time.Second)
	}
}

// updateOwnAddress re-adds this member with its current peer address when it came back with a
// new one: its stable ID is what identifies it.
func (m *Master) updateOwnAddress(ctx context.Context, peerAddr string) {
	for ctx.Err() == nil {
		members, err := m.store.Members(ctx)
		if err == nil {
			for _, mem := range members {
				if mem.ID != m.cfg.Name || mem.Address == peerAddr {
					continue
				}
				m.log.Info("this master's peer address changed; updating the membership", "old", mem.Address, "new", peerAddr)
				if err := m.store.AddNonvoter(ctx, m.cfg.Name, peerAddr); err != nil {
					m.log.Warn("could not update the peer address yet", "error", err)
					break
				}
			}
			return
		}
		sleepCtx(ctx, time.Second)
	}
}

// renewCertificates reissues this master's certificates when they are close to expiry.
func (m *Master) renewCertificates(ctx context.Context) {
	if !expiresSoon(m.id.serving.Load()) && !expiresSoon(m.id.peer.Load()) {
		return
	}
	for ctx.Err() == nil {
		ca, err := readCA(ctx, m.store)
		if err == nil {
			cfg := m.cfg
			sc, sk, pc, pk, err := issueMasterCerts(ca, &cfg, m.serviceIP)
			if err == nil {
				err = m.id.save(sc, sk, pc, pk)
			}
			if err == nil {
				m.log.Info("renewed the master's certificates")
				return
			}
		}
		m.log.Warn("could not renew the master's certificates yet", "error", err)
		sleepCtx(ctx, 10*time.Second)
	}
}

// Shutdown stops the master: open watches end, new requests are refused, a leader hands
// leadership over, and the store closes. It is safe to call more than once.
func (m *Master) Shutdown() error {
	var err error
	m.once.Do(func() {
		m.api.Drain()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if e := m.http.Shutdown(ctx); e != nil {
			m.http.Close()
		}
		m.cancel()
		err = m.store.Close()
		m.wg.Wait()
		m.log.Info("master stopped")
	})
	return err
}

// Kill stops the master abruptly, as a crash would look to the others (tests only).
func (m *Master) Kill() {
	m.once.Do(func() {
		m.http.Close()
		m.cancel()
		m.store.Abort()
		m.wg.Wait()
	})
}

func freePort(bind string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
