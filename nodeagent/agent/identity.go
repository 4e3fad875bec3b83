package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
)

// Files of an identity directory.
const (
	caFile          = "ca.crt"
	clientCertFile  = "client.crt"
	clientKeyFile   = "client.key"
	servingCertFile = "kubelet.crt"
	servingKeyFile  = "kubelet.key"
	stateFile       = "agent.json"
)

// identity is what a node got from joining: its certificates, the CA, the gossip key and
// where the masters are.
type identity struct {
	caPEM                   []byte
	clientCert, clientKey   []byte
	servingCert, servingKey []byte
	state                   savedState
}

// savedState is <dir>/agent.json.
type savedState struct {
	Name        string   `json:"name"`
	GossipKey   string   `json:"gossipKey"`
	Masters     []string `json:"masters"`
	GossipPeers []string `json:"gossipPeers,omitempty"`
}

// gossipKey decodes the cluster's gossip key.
func (id *identity) gossipKey() ([]byte, error) {
	return base64.StdEncoding.DecodeString(id.state.GossipKey)
}

// loadIdentity reads the identity saved in dir; found is false when there is none.
func loadIdentity(dir, name string) (id *identity, found bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	id = &identity{}
	if err := json.Unmarshal(data, &id.state); err != nil {
		return nil, false, fmt.Errorf("agent: %s: %v", filepath.Join(dir, stateFile), err)
	}
	if id.state.Name != name {
		return nil, false, fmt.Errorf("agent: %s belongs to node %q, not %q", dir, id.state.Name, name)
	}
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{caFile, &id.caPEM}, {clientCertFile, &id.clientCert}, {clientKeyFile, &id.clientKey}, {servingCertFile, &id.servingCert}, {servingKeyFile, &id.servingKey}} {
		if *f.dst, err = os.ReadFile(filepath.Join(dir, f.name)); err != nil {
			return nil, false, fmt.Errorf("agent: incomplete identity: %v", err)
		}
	}
	return id, true, nil
}

// save writes the identity to dir; agent.json is written last, so that a crash leaves no
// half identity that load would accept. Each file is synced to disk unless durable is false
// (hollow nodes, which sync their thousand identities at once afterwards).
func (id *identity) save(dir string, durable bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, data := range map[string][]byte{caFile: id.caPEM, clientCertFile: id.clientCert, clientKeyFile: id.clientKey,
		servingCertFile: id.servingCert, servingKeyFile: id.servingKey} {
		if err := writeFileAtomic(filepath.Join(dir, name), data, durable); err != nil {
			return err
		}
	}
	data, _ := json.MarshalIndent(id.state, "", "  ")
	return writeFileAtomic(filepath.Join(dir, stateFile), data, durable)
}

// saveState rewrites agent.json (after the masters list changed).
func (id *identity) saveState(dir string) error {
	data, _ := json.MarshalIndent(id.state, "", "  ")
	return writeFileAtomic(filepath.Join(dir, stateFile), data, true)
}

// join gets a new identity for name through j.
func join(ctx context.Context, j Joiner, servers []string, name string, servingNames []string) (*identity, error) {
	clientCSR, clientKey, err := newCSR("system:node:" + name)
	if err != nil {
		return nil, err
	}
	servingCSR, servingKey, err := newCSR("system:node:" + name)
	if err != nil {
		return nil, err
	}
	resp, err := j.Join(ctx, servers, adminapi.JoinRequest{
		Role: adminapi.RoleNode, Name: name, ClientCSR: string(clientCSR), ServingCSR: string(servingCSR), ServingNames: servingNames,
	})
	if err != nil {
		return nil, err
	}
	id := &identity{
		caPEM: []byte(resp.CACert), clientCert: []byte(resp.ClientCert), clientKey: clientKey,
		servingCert: []byte(resp.ServingCert), servingKey: servingKey,
		state: savedState{Name: name, GossipKey: resp.GossipKey, Masters: resp.Masters, GossipPeers: resp.GossipPeers},
	}
	if err := id.check(); err != nil {
		return nil, err
	}
	return id, nil
}

// check verifies that the certificates parse and match their keys, and that the answer names
// at least one master and a gossip key.
func (id *identity) check() error {
	if _, err := tls.X509KeyPair(id.clientCert, id.clientKey); err != nil {
		return fmt.Errorf("%w: client certificate: %v", ErrJoinRefused, err)
	}
	if _, err := tls.X509KeyPair(id.servingCert, id.servingKey); err != nil {
		return fmt.Errorf("%w: serving certificate: %v", ErrJoinRefused, err)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(id.caPEM) {
		return fmt.Errorf("%w: the CA certificate does not parse", ErrJoinRefused)
	}
	if len(id.state.Masters) == 0 {
		return fmt.Errorf("%w: the answer names no master", ErrJoinRefused)
	}
	if key, err := id.gossipKey(); err != nil || len(key) != 32 {
		return fmt.Errorf("%w: the gossip key is not 32 bytes of base64", ErrJoinRefused)
	}
	return nil
}

// caPool returns the cluster CA as a pool.
func (id *identity) caPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.caPEM)
	return pool
}

// newCSR returns a P-256 key and a certificate request for commonName, both PEM.
func newCSR(commonName string) (csrPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: commonName}}, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes data to a temporary file, syncs it when durable, and renames it over
// path.
func writeFileAtomic(path string, data []byte, durable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// syncFS flushes the file system that holds dir to disk (syncfs(2)).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
