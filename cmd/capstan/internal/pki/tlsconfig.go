package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// ServerTLSConfig returns a TLS 1.2+ server configuration presenting certPEM (the leaf, then
// any chain: certificates from Issue carry the CA) with keyPEM, and advertising HTTP/2 and
// HTTP/1.1 through ALPN. clientCAPEM holds the CA certificates that verify client
// certificates; it is required when clientAuth verifies them (VerifyClientCertIfGiven, as
// for the API, or RequireAndVerifyClientCert, as for Raft peers). The error wraps
// ErrInvalidTLSConfig, ErrInvalidPEM, ErrKeyMismatch or ErrUnsupportedKey.
//
// The server still has to authorize verified clients: mutual TLS only proves that the peer
// holds a certificate from the CA.
func ServerTLSConfig(certPEM, keyPEM, clientCAPEM []byte, clientAuth tls.ClientAuthType) (*tls.Config, error) {
	if clientAuth < tls.NoClientCert || clientAuth > tls.RequireAndVerifyClientCert {
		return nil, fmt.Errorf("%w: unknown client auth type %d", ErrInvalidTLSConfig, int(clientAuth))
	}
	cert, err := keyPair(certPEM, keyPEM, "server", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		ClientAuth:   clientAuth,
	}
	if len(clientCAPEM) > 0 {
		if cfg.ClientCAs, err = certPool(clientCAPEM, "client CA"); err != nil {
			return nil, err
		}
	} else if clientAuth == tls.VerifyClientCertIfGiven || clientAuth == tls.RequireAndVerifyClientCert {
		return nil, fmt.Errorf("%w: client auth %s needs client CA certificates", ErrInvalidTLSConfig, clientAuth)
	}
	return cfg, nil
}

// ClientTLSConfig returns a TLS 1.2+ client configuration that trusts the CA certificates in
// caPEM and, when certPEM and keyPEM are both given, presents that client certificate. It
// sets no ServerName, which tls.Dial and net/http fill in from the address dialed, and no
// NextProtos, which net/http fills in. The error wraps ErrInvalidTLSConfig, ErrInvalidPEM,
// ErrKeyMismatch or ErrUnsupportedKey.
func ClientTLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	roots, err := certPool(caPEM, "CA")
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
	}
	switch {
	case len(certPEM) == 0 && len(keyPEM) == 0:
	case len(certPEM) == 0 || len(keyPEM) == 0:
		return nil, fmt.Errorf("%w: a client certificate needs both the certificate and the key", ErrInvalidTLSConfig)
	default:
		cert, err := keyPair(certPEM, keyPEM, "client", x509.ExtKeyUsageClientAuth)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// PinnedClientTLSConfig returns a TLS 1.2+ client configuration for joining a cluster before
// its CA is known. It trusts a server only if the certificates it presents include a CA
// certificate whose CAHash is caHash and its leaf verifies against that CA alone: signature,
// validity period, serverAuth usage and serverName, the host name or IP literal being
// dialed (url.URL.Hostname of the --server URL; brackets around IPv6 are accepted, a port
// is not). serverName is captured: changing the returned
// config's ServerName does not change what is verified. Handshakes with other servers fail
// with an error wrapping ErrUntrustedServer.
//
// Servers must therefore present the CA certificate after their leaf, as the certificates
// from Issue and SignCSR do. The constructor's error wraps ErrInvalidTLSConfig.
func PinnedClientTLSConfig(caHash, serverName string) (*tls.Config, error) {
	if len(caHash) != hashHexLen || !isHex(caHash) {
		return nil, fmt.Errorf("%w: CA hash must be %d hexadecimal characters", ErrInvalidTLSConfig, hashHexLen)
	}
	serverName = strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	if serverName == "" {
		return nil, fmt.Errorf("%w: pinned TLS needs the server's host name or IP", ErrInvalidTLSConfig)
	}
	if strings.Contains(serverName, ":") && net.ParseIP(serverName) == nil {
		return nil, fmt.Errorf("%w: server name %q is not a host name or IP; pass the host without a port", ErrInvalidTLSConfig, serverName)
	}
	caHash = strings.ToLower(caHash)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// The standard verification needs the CA in RootCAs, which a joiner does not have
		// yet; VerifyConnection does the whole verification instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, caHash, serverName, time.Now())
		},
	}, nil
}

// verifyPinned verifies that certs, as presented by a server, chain to the CA certificate
// with hash caHash and that the leaf is valid for serverName at now.
func verifyPinned(certs []*x509.Certificate, caHash, serverName string, now time.Time) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: server presented no certificate", ErrUntrustedServer)
	}
	var ca *x509.Certificate
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		if ca == nil && certHash(c) == caHash {
			ca = c
			continue
		}
		intermediates.AddCert(c)
	}
	if ca == nil {
		return fmt.Errorf("%w: the server's chain does not include the CA certificate with hash %s", ErrUntrustedServer, caHash)
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return fmt.Errorf("%w: the certificate with hash %s is not a CA", ErrUntrustedServer, caHash)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName:       serverName,
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedServer, err)
	}
	return nil
}

// keyPair parses a certificate chain and its key, and checks that the leaf, the first
// certificate, belongs to the key and allows usage. role ("server" or "client") names the
// pair in errors.
func keyPair(certPEM, keyPEM []byte, role string, usage x509.ExtKeyUsage) (tls.Certificate, error) {
	leaf, err := parseCert(certPEM, role+" certificate")
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := parseKey(keyPEM, role+" key")
	if err != nil {
		return tls.Certificate{}, err
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("%w: %s key is not the key of certificate %q", ErrKeyMismatch, role, leaf.Subject.CommonName)
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, usage) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return tls.Certificate{}, fmt.Errorf("%w: certificate %q is not valid for %s authentication", ErrInvalidTLSConfig, leaf.Subject.CommonName, role)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf}
	for block := range decodeBlocks(certPEM) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		if len(cert.Certificate) > 0 {
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return tls.Certificate{}, fmt.Errorf("%w: %s certificate chain: %v", ErrInvalidPEM, role, err)
			}
		}
		cert.Certificate = append(cert.Certificate, block.Bytes)
	}
	return cert, nil
}

// certPool parses every "CERTIFICATE" block of data into a pool; data must hold at least one.
// what names the certificates in errors.
func certPool(data []byte, what string) (*x509.CertPool, error) {
	if _, err := findBlock(data, what+" certificates", "CERTIFICATE"); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for block := range decodeBlocks(data) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s certificates: %v", ErrInvalidPEM, what, err)
		}
		pool.AddCert(cert)
	}
	return pool, nil
}
