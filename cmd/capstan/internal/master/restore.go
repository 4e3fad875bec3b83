package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/raftstore"
)

// pendingJoinTokenFile holds the hash of a join token made by a restore, which the master
// stores when it starts.
const pendingJoinTokenFile = "join-token.pending"

// storeConfig is the raftstore configuration of a master's data directory, for offline tools.
func storeConfig(cfg *Config, id *identity) raftstore.Config {
	sc := raftstore.DefaultConfig()
	sc.NodeID, sc.DataDir, sc.LogStore = cfg.Name, filepath.Join(cfg.DataDir, "store"), cfg.LogStore
	sc.BindAddr = net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.PeerPort))
	sc.AdvertiseAddr = net.JoinHostPort(cfg.Advertise, strconv.Itoa(cfg.PeerPort))
	if id != nil {
		sc.ServerTLS, sc.ClientTLS = id.peerTLS()
	}
	return sc
}

// PrepareRestore makes cfg.DataDir the first master of a new cluster whose state is the
// snapshot at path: the store is restored with revisions moved bump past the snapshot's, the
// master's certificates are issued from the cluster CA inside the snapshot, a new join token
// is made for it and an admin kubeconfig with a client certificate is written. Start the
// master with `capstan server --data-dir` afterwards.
func PrepareRestore(path string, cfg Config, bump uint64) (raftstore.SnapshotInfo, error) {
	if err := cfg.Validate(); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if cfg.APIPort == 0 || cfg.PeerPort == 0 {
		return raftstore.SnapshotInfo{}, errors.New("--api-port and --peer-port must be set (not 0) for a restore")
	}
	if _, ok, _ := loadIdentity(cfg.DataDir); ok {
		return raftstore.SnapshotInfo{}, fmt.Errorf("data dir %s already holds a master; restore into a new one", cfg.DataDir)
	}
	f, err := os.Open(path)
	if err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	defer f.Close()
	kvs, err := raftstore.SnapshotKeys(f, keyCA)
	if err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if len(kvs) != 1 {
		return raftstore.SnapshotInfo{}, fmt.Errorf("%s holds no cluster identity: is it a Capstan snapshot?", path)
	}
	var rec caRecord
	if err := json.Unmarshal(kvs[0].Value, &rec); err != nil {
		return raftstore.SnapshotInfo{}, fmt.Errorf("the snapshot's CA is corrupt: %w", err)
	}
	ca, err := pki.LoadCA([]byte(rec.Cert), []byte(rec.Key))
	if err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	info, err := raftstore.RestoreSnapshot(f, storeConfig(&cfg, nil), bump)
	if err != nil {
		return raftstore.SnapshotInfo{}, err
	}
	prefix, _ := netip.ParsePrefix(cfg.ServiceCIDR)
	serviceIP := net.IP(prefix.Masked().Addr().Next().AsSlice())
	sc, sk, pc, pk, err := issueMasterCerts(ca, &cfg, serviceIP)
	if err != nil {
		return info, err
	}
	id := &identity{dir: pkiDir(cfg.DataDir), caPEM: ca.CertPEM}
	if err := id.save(sc, sk, pc, pk); err != nil {
		return info, err
	}
	m := &Master{cfg: cfg}
	if err := m.saveSettings(); err != nil {
		return info, err
	}
	token, err := pki.NewJoinToken(ca.CertPEM)
	if err != nil {
		return info, err
	}
	_, secret, _ := pki.ParseJoinToken(token)
	if err := pki.WriteFileAtomic(filepath.Join(cfg.DataDir, JoinTokenFile), []byte(token+"\n"), 0o600); err != nil {
		return info, err
	}
	if err := pki.WriteFileAtomic(filepath.Join(cfg.DataDir, pendingJoinTokenFile), []byte(pki.HashSecret(secret)), 0o600); err != nil {
		return info, err
	}
	certPEM, keyPEM, err := ca.Issue(pki.CertRequest{CommonName: "admin", Organizations: []string{"system:masters"}, Usage: pki.UsageClient, Validity: leafValidity})
	if err != nil {
		return info, err
	}
	return info, pki.WriteKubeconfig(pki.Kubeconfig{
		Path: filepath.Join(cfg.DataDir, AdminKubeconfigFile), ClusterName: "capstan",
		Server: fmt.Sprintf("https://%s", net.JoinHostPort(cfg.Advertise, strconv.Itoa(cfg.APIPort))),
		CAPEM:  ca.CertPEM, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM, Namespace: "default",
	})
}

// storePendingJoinToken stores the join token a restore made, once the store has a leader.
func (m *Master) storePendingJoinToken(ctx context.Context) {
	path := filepath.Join(m.cfg.DataDir, pendingJoinTokenFile)
	hash, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		if _, err := m.store.Txn(ctx, raftstore.Txn{Ops: []raftstore.Op{raftstore.Put(keyJoinToken, hash)}}); err == nil {
			os.Remove(path)
			m.log.Info("stored the join token made by the restore")
			return
		}
		sleepCtx(ctx, time.Second)
	}
}

// Recover rewrites the membership of a stopped master after the cluster lost quorum: it will
// start as the only voter, keeping its data. It refuses while a quorum of the old voters
// answers.
func Recover(ctx context.Context, dataDir string) error {
	cfg, ok, err := LoadSettings(dataDir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not a master's data directory (no %s)", dataDir, settingsFile)
	}
	id, ok, err := loadIdentity(dataDir)
	if err != nil || !ok {
		return fmt.Errorf("%s has no certificates: %v", dataDir, err)
	}
	return raftstore.Recover(ctx, storeConfig(&cfg, id))
}
