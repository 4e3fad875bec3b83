package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "ca")
	otherCA := newTestCA(t, "other")
	serverCert, serverKey := mustIssue(t, ca, serverRequest())
	serverCfg, err := ServerTLSConfig(serverCert, serverKey, ca.CertPEM, tls.RequireAndVerifyClientCert)
	if err != nil {
		t.Fatalf("ServerTLSConfig = %v", err)
	}
	clientCert, clientKey := mustIssue(t, ca, clientRequest())
	foreignCert, foreignKey := mustIssue(t, otherCA, clientRequest())
	peerReq := serverRequest()
	peerReq.Usage = UsageServerAndClient
	peerCert, peerKey := mustIssue(t, ca, peerReq)

	tests := []struct {
		name             string
		trust            []byte
		certPEM, keyPEM  []byte
		wantOK           bool
		wantClientCN     string
		wantServerFailed bool
	}{
		{name: "client certificate from the cluster CA", trust: ca.CertPEM, certPEM: clientCert, keyPEM: clientKey, wantOK: true, wantClientCN: "system:node:n1"},
		{name: "peer certificate for server and client", trust: ca.CertPEM, certPEM: peerCert, keyPEM: peerKey, wantOK: true, wantClientCN: "m1"},
		{name: "client certificate from another CA", trust: ca.CertPEM, certPEM: foreignCert, keyPEM: foreignKey, wantServerFailed: true},
		{name: "no client certificate", trust: ca.CertPEM, wantServerFailed: true},
		{name: "client trusts another CA", trust: otherCA.CertPEM, certPEM: clientCert, keyPEM: clientKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientCfg, err := ClientTLSConfig(tt.trust, tt.certPEM, tt.keyPEM)
			if err != nil {
				t.Fatalf("ClientTLSConfig = %v", err)
			}
			res := handshake(t, serverCfg, withServerName(clientCfg, "localhost"))
			if ok := res.serverErr == nil && res.clientErr == nil; ok != tt.wantOK {
				t.Fatalf("handshake: server %v, client %v; want ok %v", res.serverErr, res.clientErr, tt.wantOK)
			}
			if tt.wantServerFailed && res.serverErr == nil {
				t.Error("server accepted the client; want a server-side failure")
			}
			if !tt.wantOK {
				return
			}
			if got := res.serverState.PeerCertificates[0].Subject.CommonName; got != tt.wantClientCN {
				t.Errorf("client CN seen by server = %q; want %q", got, tt.wantClientCN)
			}
			if res.clientState.Version < tls.VersionTLS12 {
				t.Errorf("TLS version = %x; want 1.2 or later", res.clientState.Version)
			}
		})
	}
}

func TestServerTLSConfigALPNAndVersion(t *testing.T) {
	ca := newTestCA(t, "ca")
	certPEM, keyPEM := mustIssue(t, ca, serverRequest())
	serverCfg, err := ServerTLSConfig(certPEM, keyPEM, nil, tls.NoClientCert)
	if err != nil {
		t.Fatalf("ServerTLSConfig = %v", err)
	}
	if serverCfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x; want TLS 1.2", serverCfg.MinVersion)
	}
	if len(serverCfg.Certificates) != 1 || len(serverCfg.Certificates[0].Certificate) != 2 {
		t.Errorf("server presents %d certificates; want the leaf and the CA", len(serverCfg.Certificates[0].Certificate))
	}
	base, err := ClientTLSConfig(ca.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		offer  []string
		max    uint16
		want   string
		wantOK bool
	}{
		{name: "HTTP/2", offer: []string{"h2", "http/1.1"}, want: "h2", wantOK: true},
		{name: "HTTP/1.1", offer: []string{"http/1.1"}, want: "http/1.1", wantOK: true},
		{name: "no ALPN", want: "", wantOK: true},
		{name: "TLS 1.1 refused", max: tls.VersionTLS11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := withServerName(base, "127.0.0.1")
			cfg.NextProtos = tt.offer
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tt.max
			res := handshake(t, serverCfg, cfg)
			if ok := res.serverErr == nil && res.clientErr == nil; ok != tt.wantOK {
				t.Fatalf("handshake: server %v, client %v; want ok %v", res.serverErr, res.clientErr, tt.wantOK)
			}
			if got := res.clientState.NegotiatedProtocol; tt.wantOK && got != tt.want {
				t.Errorf("negotiated protocol = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestServerTLSConfigInvalid(t *testing.T) {
	ca := newTestCA(t, "ca")
	certPEM, keyPEM := mustIssue(t, ca, serverRequest())
	_, otherKey := mustIssue(t, ca, serverRequest())
	clientCert, clientKey := mustIssue(t, ca, clientRequest())
	tests := []struct {
		name            string
		certPEM, keyPEM []byte
		clientCAPEM     []byte
		auth            tls.ClientAuthType
		want            error
		msg             string
	}{
		{name: "verification without client CA", certPEM: certPEM, keyPEM: keyPEM, auth: tls.RequireAndVerifyClientCert, want: ErrInvalidTLSConfig, msg: "needs client CA certificates"},
		{name: "optional verification without client CA", certPEM: certPEM, keyPEM: keyPEM, auth: tls.VerifyClientCertIfGiven, want: ErrInvalidTLSConfig, msg: "needs client CA certificates"},
		{name: "unknown client auth", certPEM: certPEM, keyPEM: keyPEM, auth: 42, want: ErrInvalidTLSConfig, msg: "unknown client auth type 42"},
		{name: "key of another certificate", certPEM: certPEM, keyPEM: otherKey, want: ErrKeyMismatch, msg: `server key is not the key of certificate "m1"`},
		{name: "client certificate", certPEM: clientCert, keyPEM: clientKey, want: ErrInvalidTLSConfig, msg: "not valid for server authentication"},
		{name: "no certificate", keyPEM: keyPEM, want: ErrInvalidPEM, msg: "server certificate is empty"},
		{name: "no key", certPEM: certPEM, want: ErrInvalidPEM, msg: "server key is empty"},
		{name: "client CA not PEM", certPEM: certPEM, keyPEM: keyPEM, clientCAPEM: []byte("x"), auth: tls.VerifyClientCertIfGiven, want: ErrInvalidPEM, msg: "client CA certificates is not PEM"},
		{name: "garbage in chain", certPEM: append(firstCertPEM(certPEM), encodeCert([]byte{1})...), keyPEM: keyPEM, want: ErrInvalidPEM, msg: "server certificate chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ServerTLSConfig(tt.certPEM, tt.keyPEM, tt.clientCAPEM, tt.auth)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ServerTLSConfig = %v; want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestClientTLSConfigInvalid(t *testing.T) {
	ca := newTestCA(t, "ca")
	clientCert, clientKey := mustIssue(t, ca, clientRequest())
	serverCert, serverKey := mustIssue(t, ca, serverRequest())
	tests := []struct {
		name            string
		caPEM           []byte
		certPEM, keyPEM []byte
		want            error
		msg             string
	}{
		{name: "no CA", certPEM: clientCert, keyPEM: clientKey, want: ErrInvalidPEM, msg: "CA certificates is empty"},
		{name: "certificate without key", caPEM: ca.CertPEM, certPEM: clientCert, want: ErrInvalidTLSConfig, msg: "needs both"},
		{name: "key without certificate", caPEM: ca.CertPEM, keyPEM: clientKey, want: ErrInvalidTLSConfig, msg: "needs both"},
		{name: "server-only certificate", caPEM: ca.CertPEM, certPEM: serverCert, keyPEM: serverKey, want: ErrInvalidTLSConfig, msg: "not valid for client authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ClientTLSConfig(tt.caPEM, tt.certPEM, tt.keyPEM)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ClientTLSConfig = %v; want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestPinnedClientTLSConfig(t *testing.T) {
	ca := newTestCA(t, "ca")
	otherCA := newTestCA(t, "other")
	caHash, err := CAHash(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	goodCert, goodKey := mustIssue(t, ca, serverRequest())
	foreignCert, foreignKey := mustIssue(t, otherCA, serverRequest())
	expiredCert, expiredKey := expiredServerCert(t, ca)
	// A chain that presents the pinned CA but whose leaf comes from another CA.
	mixedCert := append(firstCertPEM(foreignCert), ca.CertPEM...)
	// A client-only certificate from the pinned CA, served as if it were a server's.
	clientReq := clientRequest()
	clientReq.DNSNames = []string{"localhost"}
	clientCert, clientKey := mustIssue(t, ca, clientReq)

	tests := []struct {
		name            string
		certPEM, keyPEM []byte
		serverName      string
		want            error  // nil for success
		wantX509        string // the x509 error type expected inside, if any
	}{
		{name: "chain to pinned CA, DNS name", certPEM: goodCert, keyPEM: goodKey, serverName: "localhost"},
		{name: "chain to pinned CA, IPv4", certPEM: goodCert, keyPEM: goodKey, serverName: "127.0.0.1"},
		{name: "chain to pinned CA, bracketed IPv6", certPEM: goodCert, keyPEM: goodKey, serverName: "[::1]"},
		{name: "another CA", certPEM: foreignCert, keyPEM: foreignKey, serverName: "localhost", want: ErrUntrustedServer},
		{name: "pinned CA presented with a foreign leaf", certPEM: mixedCert, keyPEM: foreignKey, serverName: "localhost", want: ErrUntrustedServer, wantX509: "unknown authority"},
		{name: "leaf without the CA", certPEM: firstCertPEM(goodCert), keyPEM: goodKey, serverName: "localhost", want: ErrUntrustedServer},
		{name: "expired certificate", certPEM: expiredCert, keyPEM: expiredKey, serverName: "localhost", want: ErrUntrustedServer, wantX509: "expired"},
		{name: "wrong host name", certPEM: goodCert, keyPEM: goodKey, serverName: "m2.example.com", want: ErrUntrustedServer, wantX509: "hostname"},
		{name: "wrong IP", certPEM: goodCert, keyPEM: goodKey, serverName: "10.9.9.9", want: ErrUntrustedServer, wantX509: "hostname"},
		{name: "client-only certificate", certPEM: clientCert, keyPEM: clientKey, serverName: "localhost", want: ErrUntrustedServer, wantX509: "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := tls.X509KeyPair(tt.certPEM, tt.keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			// Built by hand so that certificates ServerTLSConfig refuses can be served.
			serverCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
			clientCfg, err := PinnedClientTLSConfig(caHash, tt.serverName)
			if err != nil {
				t.Fatalf("PinnedClientTLSConfig = %v", err)
			}
			res := handshake(t, serverCfg, clientCfg)
			if !errorIs(res.clientErr, tt.want) {
				t.Fatalf("pinned handshake = %v; want %v", res.clientErr, tt.want)
			}
			if tt.want == nil {
				return
			}
			if res.serverErr == nil {
				t.Error("server handshake succeeded; want it to fail after the client's alert")
			}
			switch tt.wantX509 {
			case "expired":
				var e x509.CertificateInvalidError
				if !errors.As(res.clientErr, &e) || e.Reason != x509.Expired {
					t.Errorf("pinned handshake = %v; want an x509 Expired error", res.clientErr)
				}
			case "hostname":
				var e x509.HostnameError
				if !errors.As(res.clientErr, &e) {
					t.Errorf("pinned handshake = %v; want an x509.HostnameError", res.clientErr)
				}
			case "unknown authority":
				var e x509.UnknownAuthorityError
				if !errors.As(res.clientErr, &e) {
					t.Errorf("pinned handshake = %v; want an x509.UnknownAuthorityError", res.clientErr)
				}
			case "usage":
				var e x509.CertificateInvalidError
				if !errors.As(res.clientErr, &e) || e.Reason != x509.IncompatibleUsage {
					t.Errorf("pinned handshake = %v; want an x509 IncompatibleUsage error", res.clientErr)
				}
			}
		})
	}
}

func TestPinnedClientTLSConfigOverHTTP(t *testing.T) {
	ca := newTestCA(t, "ca")
	caHash, err := CAHash(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := mustIssue(t, ca, serverRequest())
	serverCfg, err := ServerTLSConfig(certPEM, keyPEM, nil, tls.NoClientCert)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(testWriter{t}, "", 0)
	srv.TLS = serverCfg
	srv.StartTLS()
	defer srv.Close()

	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hash    string
		wantErr error
	}{
		{name: "pinned CA", hash: caHash},
		{name: "other hash", hash: strings.Repeat("0", 64), wantErr: ErrUntrustedServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := PinnedClientTLSConfig(tt.hash, u.Hostname())
			if err != nil {
				t.Fatal(err)
			}
			tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: ioTimeout}
			resp, err := client.Get(srv.URL)
			if !errorIs(err, tt.wantErr) {
				t.Fatalf("GET %s = %v; want %v", srv.URL, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != "HTTP/2.0" {
				t.Errorf("GET %s body = %q, %v; want %q", srv.URL, body, err, "HTTP/2.0")
			}
		})
	}
}

func TestPinnedClientTLSConfigInvalid(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name       string
		hash       string
		serverName string
		msg        string
	}{
		{name: "empty hash", hash: "", serverName: "m1", msg: "64 hexadecimal characters"},
		{name: "short hash", hash: hash[:10], serverName: "m1", msg: "64 hexadecimal characters"},
		{name: "non-hex hash", hash: strings.Repeat("g", 64), serverName: "m1", msg: "64 hexadecimal characters"},
		{name: "empty server name", hash: hash, serverName: "", msg: "host name or IP"},
		{name: "empty brackets", hash: hash, serverName: "[]", msg: "host name or IP"},
		{name: "host and port", hash: hash, serverName: "m1:6443", msg: "without a port"},
		{name: "IPv4 and port", hash: hash, serverName: "10.0.0.1:6443", msg: "without a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PinnedClientTLSConfig(tt.hash, tt.serverName)
			if !errors.Is(err, ErrInvalidTLSConfig) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("PinnedClientTLSConfig(%q, %q) = %v; want ErrInvalidTLSConfig containing %q", tt.hash, tt.serverName, err, tt.msg)
			}
		})
	}
}

func TestVerifyPinnedNoCertificates(t *testing.T) {
	err := verifyPinned(nil, strings.Repeat("ab", 32), "m1", time.Now())
	if !errors.Is(err, ErrUntrustedServer) {
		t.Errorf("verifyPinned(no certificates) = %v; want ErrUntrustedServer", err)
	}
}

// firstCertPEM returns the first certificate of a PEM chain as PEM, or nil if there is none.
func firstCertPEM(chain []byte) []byte {
	block, err := findBlock(chain, "chain", "CERTIFICATE")
	if err != nil {
		return nil
	}
	return encodeCert(block.Bytes)
}

// testWriter sends a logger's output to t.Log.
type testWriter struct{ t *testing.T }

// Write logs p through t.
func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
