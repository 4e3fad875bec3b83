package master

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/raftstore"
)

// Keys under which the cluster keeps its identity in the store. They are replicated like
// everything else, so every master can sign joiners and check tokens.
const (
	keyCA        = "/capstan/cluster/ca"
	keyGossip    = "/capstan/cluster/gossip-key"
	keyJoinToken = "/capstan/cluster/join-token"
	// keyTokens + hex SHA-256 of a bearer token -> the tokenUser it authenticates.
	keyTokens = "/capstan/cluster/tokens/"
	// keyMasters + name -> the masterRecord of a running master.
	keyMasters = "/capstan/cluster/masters/"
)

// Validity of the certificates a master issues; they are renewed at start when they have
// less than renewBefore left.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	renewBefore  = 90 * 24 * time.Hour
)

// caRecord is the CA as stored in the cluster.
type caRecord struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// tokenUser is the identity a stored bearer token authenticates.
type tokenUser struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

// masterRecord tells the cluster where a master is.
type masterRecord struct {
	Name          string `json:"name"`
	APIURL        string `json:"apiURL"`
	PeerAddress   string `json:"peerAddress"`
	GossipAddress string `json:"gossipAddress,omitempty"`
}

// identity is a master's certificates on disk.
type identity struct {
	dir     string
	caPEM   []byte
	serving atomic.Pointer[tls.Certificate]
	peer    atomic.Pointer[tls.Certificate]
}

func pkiDir(dataDir string) string { return filepath.Join(dataDir, "pki") }

const (
	fileCA          = "ca.crt"
	fileServingCert = "server.crt"
	fileServingKey  = "server.key"
	filePeerCert    = "peer.crt"
	filePeerKey     = "peer.key"
)

// loadIdentity reads the certificates of an existing member; ok is false when there are none.
func loadIdentity(dataDir string) (*identity, bool, error) {
	dir := pkiDir(dataDir)
	caPEM, err := os.ReadFile(filepath.Join(dir, fileCA))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	id := &identity{dir: dir, caPEM: caPEM}
	for _, p := range []struct {
		cert, key string
		into      *atomic.Pointer[tls.Certificate]
	}{{fileServingCert, fileServingKey, &id.serving}, {filePeerCert, filePeerKey, &id.peer}} {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, p.cert), filepath.Join(dir, p.key))
		if err != nil {
			return nil, false, fmt.Errorf("load %s: %w", p.cert, err)
		}
		p.into.Store(&pair)
	}
	return id, true, nil
}

// store writes certificates to the identity's directory and swaps them in.
func (id *identity) save(servingCert, servingKey, peerCert, peerKey []byte) error {
	if err := os.MkdirAll(id.dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{fileCA: id.caPEM, fileServingCert: servingCert, fileServingKey: servingKey, filePeerCert: peerCert, filePeerKey: peerKey}
	for name, data := range files {
		if err := pki.WriteFileAtomic(filepath.Join(id.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	serving, err := tls.X509KeyPair(servingCert, servingKey)
	if err != nil {
		return err
	}
	peer, err := tls.X509KeyPair(peerCert, peerKey)
	if err != nil {
		return err
	}
	id.serving.Store(&serving)
	id.peer.Store(&peer)
	return nil
}

func (id *identity) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.caPEM)
	return pool
}

// apiTLS is the API server's TLS: the serving certificate, client certificates verified
// against the cluster CA when offered.
func (id *identity) apiTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.serving.Load(), nil },
		ClientCAs:      id.caPool(), ClientAuth: tls.VerifyClientCertIfGiven,
	}
}

// peerTLS returns the mutual TLS configurations of the Raft peer port.
func (id *identity) peerTLS() (server, client *tls.Config) {
	server = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.peer.Load(), nil },
		ClientCAs:      id.caPool(), ClientAuth: tls.RequireAndVerifyClientCert,
	}
	client = &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return id.peer.Load(), nil },
		RootCAs:              id.caPool(),
	}
	return server, client
}

// expiresSoon reports whether a certificate needs renewing.
func expiresSoon(c *tls.Certificate) bool {
	if c == nil || len(c.Certificate) == 0 {
		return true
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	return err != nil || time.Until(leaf.NotAfter) < renewBefore
}

// servingNames are the names and IPs of a master's API certificate.
func (c *Config) servingNames(serviceIP net.IP) []string {
	names := []string{c.Advertise, "localhost", "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if serviceIP != nil {
		names = append(names, serviceIP.String())
	}
	if ip := net.ParseIP(c.BindAddress); ip != nil && !ip.IsUnspecified() {
		names = append(names, c.BindAddress)
	}
	return append(names, c.TLSSANs...)
}

// certRequest turns names into a certificate request.
func certRequest(cn string, orgs, names []string, usage pki.Usage) pki.CertRequest {
	req := pki.CertRequest{CommonName: cn, Organizations: orgs, Usage: usage, Validity: leafValidity}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			req.IPs = append(req.IPs, ip)
		} else {
			req.DNSNames = append(req.DNSNames, n)
		}
	}
	return req
}

// Organization of masters' peer certificates.
const mastersOrg = "capstan:masters"

// issueMasterCerts issues a master's serving and peer certificates from ca.
func issueMasterCerts(ca *pki.CA, cfg *Config, serviceIP net.IP) (servingCert, servingKey, peerCert, peerKey []byte, err error) {
	servingCert, servingKey, err = ca.Issue(certRequest("kube-apiserver", nil, cfg.servingNames(serviceIP), pki.UsageServer))
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("issue serving certificate: %w", err)
	}
	peerCert, peerKey, err = ca.Issue(certRequest(cfg.Name, []string{mastersOrg}, []string{cfg.Advertise}, pki.UsageServerAndClient))
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("issue peer certificate: %w", err)
	}
	return servingCert, servingKey, peerCert, peerKey, nil
}

// clusterSecrets are what a bootstrap master generates and stores for the whole cluster.
type clusterSecrets struct {
	ca         *pki.CA
	joinToken  string
	adminToken string
	gossipKey  []byte
}

func newClusterSecrets() (*clusterSecrets, error) {
	ca, err := pki.NewCA("capstan-ca", caValidity)
	if err != nil {
		return nil, err
	}
	join, err := pki.NewJoinToken(ca.CertPEM)
	if err != nil {
		return nil, err
	}
	admin, err := pki.NewBearerToken()
	if err != nil {
		return nil, err
	}
	gossip, err := pki.NewGossipKey()
	if err != nil {
		return nil, err
	}
	return &clusterSecrets{ca: ca, joinToken: join, adminToken: admin, gossipKey: gossip}, nil
}

// tokenKey is where a bearer token's user is stored.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return keyTokens + hex.EncodeToString(sum[:])
}

// storeSecrets writes the cluster's identity into the store unless it is already there.
func storeSecrets(ctx context.Context, store *raftstore.Store, s *clusterSecrets) error {
	_, secret, err := pki.ParseJoinToken(s.joinToken)
	if err != nil {
		return err
	}
	ca, _ := json.Marshal(caRecord{Cert: string(s.ca.CertPEM), Key: string(s.ca.KeyPEM)})
	admin, _ := json.Marshal(tokenUser{Name: "admin", Groups: []string{"system:masters"}})
	res, err := store.Txn(ctx, raftstore.Txn{
		Compares: []raftstore.Compare{raftstore.Absent(keyCA)},
		Ops: []raftstore.Op{
			raftstore.Put(keyCA, ca),
			raftstore.Put(keyJoinToken, []byte(pki.HashSecret(secret))),
			raftstore.Put(keyGossip, []byte(base64.StdEncoding.EncodeToString(s.gossipKey))),
			raftstore.Put(tokenKey(s.adminToken), admin),
		},
	})
	if err != nil {
		return fmt.Errorf("store the cluster identity: %w", err)
	}
	if !res.Succeeded {
		return errors.New("the store already holds a cluster identity: this data directory was bootstrapped before")
	}
	return nil
}

// readCA loads the cluster CA from the store.
func readCA(ctx context.Context, store *raftstore.Store) (*pki.CA, error) {
	kv, found, _, err := store.Get(ctx, keyCA, raftstore.ReadOptions{Stale: true})
	if err == nil && !found {
		kv, found, _, err = store.Get(ctx, keyCA, raftstore.ReadOptions{})
	}
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("the cluster has no certificate authority in its store")
	}
	var rec caRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return nil, fmt.Errorf("stored CA is corrupt: %w", err)
	}
	return pki.LoadCA([]byte(rec.Cert), []byte(rec.Key))
}

// pemCertificate checks that data is one PEM certificate.
func pemCertificate(data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("not a PEM certificate")
	}
	_, err := x509.ParseCertificate(block.Bytes)
	return err
}
