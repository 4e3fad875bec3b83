package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

// ioTimeout bounds every network operation of a test so that a bug fails instead of hanging.
const ioTimeout = 10 * time.Second

// newTestCA returns a new CA valid for a day.
func newTestCA(t *testing.T, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, 24*time.Hour)
	if err != nil {
		t.Fatalf("NewCA(%q) = %v", name, err)
	}
	return ca
}

// mustIssue issues req from ca and returns the certificate chain and key.
func mustIssue(t *testing.T, ca *CA, req CertRequest) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("Issue(%+v) = %v", req, err)
	}
	return certPEM, keyPEM
}

// serverRequest is a server certificate request for localhost and the loopback addresses.
func serverRequest() CertRequest {
	return CertRequest{
		CommonName: "m1",
		DNSNames:   []string{"localhost", "m1.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		Usage:      UsageServer,
		Validity:   time.Hour,
	}
}

// clientRequest is a client certificate request for an agent.
func clientRequest() CertRequest {
	return CertRequest{
		CommonName:    "system:node:n1",
		Organizations: []string{"system:nodes"},
		Usage:         UsageClient,
		Validity:      time.Hour,
	}
}

// firstCert parses the first certificate of a PEM chain.
func firstCert(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	cert, err := parseCert(chainPEM, "test certificate")
	if err != nil {
		t.Fatalf("parseCert = %v", err)
	}
	return cert
}

// pemBlocks returns the types of the PEM blocks in data.
func pemBlocks(data []byte) []string {
	var types []string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return types
		}
		types = append(types, block.Type)
	}
}

// craftCert signs tmpl with the given parent and key, bypassing Issue's checks, for
// certificates Issue refuses to make (expired ones). It returns the certificate as PEM.
func craftCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) []byte {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate = %v", err)
	}
	return encodeCert(der)
}

// expiredServerCert returns a server certificate chain and key, signed by ca, that expired an
// hour ago.
func expiredServerCert(t *testing.T, ca *CA) (certPEM, keyPEM []byte) {
	t.Helper()
	_, keyPEM = mustIssue(t, ca, serverRequest())
	key, err := parseKey(keyPEM, "key")
	if err != nil {
		t.Fatal(err)
	}
	leaf := craftCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "expired"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-2 * time.Hour),
		NotAfter:    time.Now().Add(-time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.Cert, key.Public(), ca.Key)
	return append(leaf, ca.CertPEM...), keyPEM
}

// handshakeResult is the outcome of a TLS handshake on each side.
type handshakeResult struct {
	serverErr, clientErr error
	// serverState is the server's view of the connection when its handshake succeeded.
	serverState tls.ConnectionState
	// clientState is the client's view of the connection when its handshake succeeded.
	clientState tls.ConnectionState
}

// handshake connects a TLS client to a TLS server over loopback TCP. The server answers one
// byte after a successful handshake; the client reads it, so a client certificate rejected
// after the client's side of a TLS 1.3 handshake completed still shows as a client error.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type serverOutcome struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan serverOutcome, 1)
	go func() { // exits once the connection is handshaken or failed, bounded by ioTimeout
		raw, err := ln.Accept()
		if err != nil {
			done <- serverOutcome{err: err}
			return
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(ioTimeout))
		conn := tls.Server(raw, serverCfg)
		if err := conn.Handshake(); err != nil {
			done <- serverOutcome{err: err}
			return
		}
		_, err = conn.Write([]byte{'k'})
		done <- serverOutcome{err: err, state: conn.ConnectionState()}
	}()

	var res handshakeResult
	raw, err := net.DialTimeout("tcp", ln.Addr().String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(ioTimeout))
	conn := tls.Client(raw, clientCfg)
	res.clientErr = conn.Handshake()
	if res.clientErr == nil {
		res.clientState = conn.ConnectionState()
		_, res.clientErr = io.ReadFull(conn, make([]byte, 1))
	}
	raw.Close()
	out := <-done
	res.serverErr, res.serverState = out.err, out.state
	return res
}

// withServerName returns a copy of cfg that verifies name.
func withServerName(cfg *tls.Config, name string) *tls.Config {
	c := cfg.Clone()
	c.ServerName = name
	return c
}

// errorIs reports whether err matches want, treating a nil want as "no error".
func errorIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
