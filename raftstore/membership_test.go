package raftstore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMembersList(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	members, err := c.follower().Members(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, m := range members {
		if !m.Voter || !m.Healthy || m.Status == nil {
			t.Errorf("member %+v; want a healthy voter with a status", m)
		}
		if m.Leader {
			leaders++
		}
	}
	if len(members) != 3 || leaders != 1 {
		t.Errorf("Members() = %d members with %d leaders; want 3 and 1", len(members), leaders)
	}
}

func TestRemoveGuardsQuorumAndRemovedIDsAreNeverReused(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	leader := c.waitLeader()
	ctx := testContext(t)
	// With one voter down, removing a healthy one would leave 1 healthy of 2: refused.
	down := c.follower()
	downID := down.NodeID()
	c.kill(downID)
	healthy := c.follower()
	if err := leader.RemoveMember(ctx, healthy.NodeID(), false); !errors.Is(err, ErrQuorumAtRisk) {
		t.Fatalf("RemoveMember(healthy %s) with %s down: error = %v; want ErrQuorumAtRisk", healthy.NodeID(), downID, err)
	}
	// Removing the dead member is safe.
	if err := healthy.RemoveMember(ctx, downID, false); err != nil {
		t.Fatalf("RemoveMember(dead %s) = %v", downID, err)
	}
	members, _ := leader.Members(ctx)
	if len(members) != 2 {
		t.Fatalf("after removal Members() = %d; want 2", len(members))
	}
	// The removed ID cannot come back.
	if err := leader.AddNonvoter(ctx, downID, "127.0.0.1:1"); !errors.Is(err, ErrMemberRemoved) {
		t.Errorf("AddNonvoter(removed %s) error = %v; want ErrMemberRemoved", downID, err)
	}
	// A new member joins, is promoted by autopilot, and writes go on.
	cfg := testConfig(t, c.dir, "m9", LogStoreWAL)
	joiner := c.start(cfg)
	if err := healthy.AddNonvoter(ctx, "m9", joiner.Addr()); err != nil {
		t.Fatal(err)
	}
	c.waitVoters(3)
	put(t, joiner, "/after/join", "x")
}

func TestDemotePromoteAndTransfer(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	ctx := testContext(t)
	f := c.follower()
	id := f.NodeID()
	if err := c.waitLeader().Demote(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	isVoter := func() bool {
		members, _ := c.waitLeader().Members(ctx)
		for _, m := range members {
			if m.ID == id {
				return m.Voter
			}
		}
		return false
	}
	waitFor(t, 5*time.Second, id+" to be a non-voter", func() bool { return !isVoter() })
	if err := c.waitLeader().TransferLeadership(ctx, id); !errors.Is(err, ErrNotVoter) {
		t.Errorf("TransferLeadership to a non-voter: %v; want ErrNotVoter", err)
	}
	// Autopilot leaves a demoted member alone: it stays a non-voter through rounds spanning
	// more than the stabilization time.
	leader := c.waitLeader()
	rounds := leader.autopilotRounds.Load()
	need := int64(3*c.cfgs[id].Autopilot.StabilizationTime/c.cfgs[id].Autopilot.Interval) + 1
	waitFor(t, 10*time.Second, "autopilot rounds", func() bool { return leader.autopilotRounds.Load() >= rounds+need })
	if isVoter() {
		t.Fatalf("autopilot promoted %s, which an operator demoted", id)
	}
	if err := f.Promote(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, id+" to be a voter", isVoter)
	if err := f.TransferLeadership(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, id+" to lead", func() bool { return c.waitLeader().NodeID() == id })
}

func TestSnapshotSaveAndRestoreIntoNewCluster(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	ctx := testContext(t)
	f := c.follower()
	var last TxnResult
	for i := 0; i < 20; i++ {
		last = put(t, f, fmt.Sprintf("/registry/configmaps/default/c%d", i), fmt.Sprint(i))
	}
	var buf bytes.Buffer
	info, err := f.SaveSnapshot(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys < 20 || info.Revision < last.Revision || info.Size != int64(buf.Len()) {
		t.Fatalf("SaveSnapshot = %+v", info)
	}
	inspected, err := InspectSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil || inspected.Revision != info.Revision || inspected.Keys != info.Keys {
		t.Fatalf("InspectSnapshot = %+v, %v; want %+v", inspected, err, info)
	}

	dir := t.TempDir()
	cfg := testConfig(t, dir, "r0", LogStoreWAL)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.BindAddr = ln.Addr().String()
	cfg.AdvertiseAddr = cfg.BindAddr
	ln.Close()
	restored, err := RestoreSnapshot(bytes.NewReader(buf.Bytes()), cfg, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if restored.Keys != info.Keys {
		t.Errorf("RestoreSnapshot restored %d keys; want %d", restored.Keys, info.Keys)
	}
	if _, err := RestoreSnapshot(bytes.NewReader(buf.Bytes()), cfg, 1000); err == nil {
		t.Error("restoring twice into the same data dir succeeded")
	}
	nc := &cluster{t: t, dir: dir, members: map[string]*Store{}, cfgs: map[string]Config{}}
	t.Cleanup(nc.closeAll)
	s := nc.start(cfg)
	nc.waitLeader()
	kv, ok, _, err := s.Get(ctx, "/registry/configmaps/default/c19", ReadOptions{})
	if err != nil || !ok || string(kv.Value) != "19" {
		t.Fatalf("Get from the restored cluster = %+v, %v, %v", kv, ok, err)
	}
	res := put(t, s, "/registry/configmaps/default/new", "x")
	if res.Revision <= info.Revision+1000 {
		t.Errorf("first write after restore at revision %d; want above %d (snapshot %d + bump)", res.Revision, info.Revision+1000, info.Revision)
	}
	if _, err := s.Watch("/", info.Revision); !errors.Is(err, ErrCompacted) {
		t.Errorf("Watch from the snapshot's revision on the restored cluster: %v; want ErrCompacted", err)
	}
}

func TestRecoverAfterQuorumLoss(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	leader := c.waitLeader()
	survivor := c.follower()
	id := survivor.NodeID()
	want := put(t, leader, "/before/loss", "kept")
	cfg := c.cfgs[id]
	if err := survivor.waitRevision(testContext(t), want.Revision); err != nil {
		t.Fatal(err)
	}
	// While the cluster is healthy, recovery is refused.
	c.kill(id)
	if err := Recover(testContext(t), cfg); !errors.Is(err, ErrClusterHealthy) {
		t.Fatalf("Recover with a healthy quorum: %v; want ErrClusterHealthy", err)
	}
	// Lose the other two members and their data.
	for _, s := range c.live() {
		other := s.NodeID()
		c.kill(other)
		os.RemoveAll(filepath.Join(c.dir, other))
	}
	if err := Recover(testContext(t), cfg); err != nil {
		t.Fatalf("Recover = %v", err)
	}
	s := c.restart(id)
	c.waitLeader()
	kv, ok, _, err := s.Get(testContext(t), "/before/loss", ReadOptions{})
	if err != nil || !ok || string(kv.Value) != "kept" {
		t.Fatalf("after recovery Get = %+v, %v, %v", kv, ok, err)
	}
	if res := put(t, s, "/after/recovery", "x"); res.Revision <= want.Revision {
		t.Errorf("revision after recovery %d is not above %d", res.Revision, want.Revision)
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	c := newCluster(t, 3, LogStoreWAL, func(cfg *Config) {
		cfg.ServerTLS, cfg.ClientTLS = ca.configs(t, cfg.NodeID)
	})
	put(t, c.follower(), "/tls", "ok")

	// A member with a certificate from another CA cannot reach the cluster.
	cfg := testConfig(t, c.dir, "intruder", LogStoreWAL)
	cfg.ServerTLS, cfg.ClientTLS = other.configs(t, "intruder")
	intruder := c.start(cfg)
	leaderAddr := c.waitLeader().Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := intruder.peers.call(ctx, leaderAddr, methodStatus, nil); err == nil {
		t.Error("a peer with a foreign certificate got an answer from the leader")
	}
}

// testCA issues certificates for loopback members.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) configs(t testing.TB, name string) (server, client *tls.Config) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pair := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	server = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: ca.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	return server, client
}
