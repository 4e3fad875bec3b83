package pki

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca := newTestCA(t, "capstan-ca")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero {
		t.Errorf("CA basic constraints = IsCA %v, valid %v, MaxPathLenZero %v; want all true", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage&want != want {
		t.Errorf("CA KeyUsage = %b; want CertSign and CRLSign", c.KeyUsage)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA public key = %T; want ECDSA P-256", c.PublicKey)
	}
	if c.Subject.CommonName != "capstan-ca" {
		t.Errorf("CA CommonName = %q; want %q", c.Subject.CommonName, "capstan-ca")
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("CA has no SubjectKeyId")
	}
	if got := c.NotAfter.Sub(time.Now()); got < 23*time.Hour || got > 24*time.Hour {
		t.Errorf("CA NotAfter - now = %s; want about 24h", got)
	}
	if got := pemBlocks(ca.CertPEM); !slices.Equal(got, []string{"CERTIFICATE"}) {
		t.Errorf("CertPEM blocks = %v; want [CERTIFICATE]", got)
	}
	if got := pemBlocks(ca.KeyPEM); !slices.Equal(got, []string{"PRIVATE KEY"}) {
		t.Errorf("KeyPEM blocks = %v; want [PRIVATE KEY]", got)
	}
	loaded, err := LoadCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatalf("LoadCA(NewCA PEM) = %v", err)
	}
	if !loaded.Cert.Equal(ca.Cert) || !bytes.Equal(loaded.KeyPEM, ca.KeyPEM) {
		t.Error("LoadCA(NewCA PEM) differs from the CA")
	}
}

func TestNewCAInvalid(t *testing.T) {
	tests := []struct {
		name     string
		cn       string
		validity time.Duration
	}{
		{name: "empty common name", cn: "", validity: time.Hour},
		{name: "blank common name", cn: "  ", validity: time.Hour},
		{name: "zero validity", cn: "ca", validity: 0},
		{name: "negative validity", cn: "ca", validity: -time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCA(tt.cn, tt.validity); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("NewCA(%q, %s) = %v; want ErrInvalidRequest", tt.cn, tt.validity, err)
			}
		})
	}
}

func TestIssueServerCertificateSANs(t *testing.T) {
	ca := newTestCA(t, "ca")
	certPEM, keyPEM := mustIssue(t, ca, CertRequest{
		CommonName: "m1",
		DNSNames:   []string{"m1.example.com", "localhost", "*.apps.example.com"},
		IPs:        []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")},
		Usage:      UsageServer,
		Validity:   time.Hour,
	})
	if got := pemBlocks(keyPEM); !slices.Equal(got, []string{"PRIVATE KEY"}) {
		t.Errorf("key blocks = %v; want [PRIVATE KEY]", got)
	}
	leaf := firstCert(t, certPEM)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tests := []struct {
		name   string
		host   string
		wantOK bool
	}{
		{name: "DNS name", host: "m1.example.com", wantOK: true},
		{name: "second DNS name", host: "localhost", wantOK: true},
		{name: "IPv4", host: "10.0.0.1", wantOK: true},
		{name: "IPv6", host: "fd00::1", wantOK: true},
		{name: "wildcard DNS name", host: "web.apps.example.com", wantOK: true},
		{name: "unlisted DNS name", host: "m2.example.com", wantOK: false},
		{name: "unlisted IP", host: "10.0.0.2", wantOK: false},
		{name: "common name is not a SAN", host: "m1", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{
				DNSName:   tt.host,
				Roots:     roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if (err == nil) != tt.wantOK {
				t.Errorf("Verify(%q) = %v; want ok %v", tt.host, err, tt.wantOK)
			}
		})
	}
}

func TestIssueUsages(t *testing.T) {
	ca := newTestCA(t, "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tests := []struct {
		name                   string
		usage                  Usage
		wantServer, wantClient bool
	}{
		{name: "server", usage: UsageServer, wantServer: true},
		{name: "client", usage: UsageClient, wantClient: true},
		{name: "server and client", usage: UsageServerAndClient, wantServer: true, wantClient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := clientRequest()
			req.Usage = tt.usage
			req.IPs = []net.IP{net.ParseIP("10.0.0.1")}
			certPEM, _ := mustIssue(t, ca, req)
			leaf := firstCert(t, certPEM)
			for _, check := range []struct {
				usage x509.ExtKeyUsage
				want  bool
			}{
				{x509.ExtKeyUsageServerAuth, tt.wantServer},
				{x509.ExtKeyUsageClientAuth, tt.wantClient},
			} {
				_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{check.usage}})
				if (err == nil) != check.want {
					t.Errorf("Verify(usage %v) = %v; want ok %v", check.usage, err, check.want)
				}
			}
			if leaf.IsCA {
				t.Error("issued certificate is a CA")
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage = %b; want DigitalSignature", leaf.KeyUsage)
			}
			if leaf.Subject.CommonName != "system:node:n1" || !slices.Equal(leaf.Subject.Organization, []string{"system:nodes"}) {
				t.Errorf("Subject = CN %q O %q; want CN %q O %q", leaf.Subject.CommonName, leaf.Subject.Organization, "system:node:n1", []string{"system:nodes"})
			}
		})
	}
}

func TestIssueChainAndValidity(t *testing.T) {
	ca, err := NewCA("short-ca", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req := serverRequest()
	req.Validity = 365 * 24 * time.Hour
	certPEM, _ := mustIssue(t, ca, req)
	if got := pemBlocks(certPEM); !slices.Equal(got, []string{"CERTIFICATE", "CERTIFICATE"}) {
		t.Fatalf("Issue chain blocks = %v; want leaf and CA", got)
	}
	if !bytes.HasSuffix(certPEM, ca.CertPEM) {
		t.Error("Issue chain does not end with the CA certificate")
	}
	leaf := firstCert(t, certPEM)
	if !leaf.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter = %v; want the CA's %v", leaf.NotAfter, ca.Cert.NotAfter)
	}
	if leaf.NotBefore.Before(ca.Cert.NotBefore) || leaf.NotBefore.After(time.Now()) {
		t.Errorf("leaf NotBefore = %v; want between the CA's %v and now", leaf.NotBefore, ca.Cert.NotBefore)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, ca.Cert.SubjectKeyId) {
		t.Errorf("leaf AuthorityKeyId = %x; want the CA's SubjectKeyId %x", leaf.AuthorityKeyId, ca.Cert.SubjectKeyId)
	}
	other, _ := mustIssue(t, ca, req)
	if firstCert(t, other).SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two issued certificates share a serial number")
	}
}

func TestIssueInvalidRequest(t *testing.T) {
	ca := newTestCA(t, "ca")
	tests := []struct {
		name   string
		modify func(*CertRequest)
		want   string
	}{
		{name: "empty common name", modify: func(r *CertRequest) { r.CommonName = "" }, want: "common name is empty"},
		{name: "zero usage", modify: func(r *CertRequest) { r.Usage = 0 }, want: "unknown usage Usage(0)"},
		{name: "unknown usage", modify: func(r *CertRequest) { r.Usage = 9 }, want: "unknown usage Usage(9)"},
		{name: "zero validity", modify: func(r *CertRequest) { r.Validity = 0 }, want: "validity 0s is not positive"},
		{name: "server without SANs", modify: func(r *CertRequest) { r.DNSNames, r.IPs = nil, nil }, want: `server certificate "m1" has no DNS name or IP`},
		{name: "empty DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{""} }, want: "empty DNS name"},
		{name: "IP as DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{"10.0.0.1"} }, want: `"10.0.0.1" is an IP address`},
		{name: "space in DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{"a b"} }, want: `DNS name "a b" contains ' '`},
		{name: "host and port as DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{"m1:7000"} }, want: `DNS name "m1:7000" contains ':'`},
		{name: "non-ASCII DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{"bücher.example"} }, want: `contains 'ü'`},
		{name: "long DNS name", modify: func(r *CertRequest) { r.DNSNames = []string{strings.Repeat("a", 254)} }, want: "longer than 253"},
		{name: "malformed IP", modify: func(r *CertRequest) { r.IPs = []net.IP{{1, 2, 3}} }, want: "IP #0 has 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := serverRequest()
			tt.modify(&req)
			_, _, err := ca.Issue(req)
			if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Issue(%+v) = %v; want ErrInvalidRequest containing %q", req, err, tt.want)
			}
			csr, _, err := NewCSR("x")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ca.SignCSR(csr, req); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("SignCSR(%+v) = %v; want ErrInvalidRequest", req, err)
			}
		})
	}
}

func TestIssueFromExpiredCA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "old-ca"},
		NotBefore:             time.Now().Add(-2 * time.Hour),
		NotAfter:              time.Now().Add(-time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	certPEM := craftCert(t, tmpl, tmpl, &key.PublicKey, key)
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("LoadCA(expired CA) = %v; want success", err)
	}
	if _, _, err := ca.Issue(serverRequest()); !errors.Is(err, ErrCAExpired) || !strings.Contains(err.Error(), `"old-ca" expired at`) {
		t.Errorf("Issue from expired CA = %v; want ErrCAExpired naming the CA", err)
	}
}

func TestSignCSR(t *testing.T) {
	ca := newTestCA(t, "ca")
	csrPEM, keyPEM, err := NewCSR("name-in-csr")
	if err != nil {
		t.Fatalf("NewCSR = %v", err)
	}
	if got := pemBlocks(csrPEM); !slices.Equal(got, []string{"CERTIFICATE REQUEST"}) {
		t.Errorf("NewCSR blocks = %v; want [CERTIFICATE REQUEST]", got)
	}
	certPEM, err := ca.SignCSR(csrPEM, clientRequest())
	if err != nil {
		t.Fatalf("SignCSR = %v", err)
	}
	leaf := firstCert(t, certPEM)
	if leaf.Subject.CommonName != "system:node:n1" {
		t.Errorf("SignCSR CommonName = %q; want the request's %q", leaf.Subject.CommonName, "system:node:n1")
	}
	key, err := parseKey(keyPEM, "key")
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		t.Error("SignCSR certificate is not for the CSR's key")
	}
	if err := leaf.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("SignCSR certificate is not signed by the CA: %v", err)
	}
	if !bytes.HasSuffix(certPEM, ca.CertPEM) {
		t.Error("SignCSR chain does not end with the CA certificate")
	}
	if _, err := ClientTLSConfig(ca.CertPEM, certPEM, keyPEM); err != nil {
		t.Errorf("ClientTLSConfig(SignCSR certificate, NewCSR key) = %v", err)
	}
}

func TestSignCSRRSA(t *testing.T) {
	ca := newTestCA(t, "ca")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignCSR(encodePEM("CERTIFICATE REQUEST", der), serverRequest())
	if err != nil {
		t.Fatalf("SignCSR(RSA CSR) = %v", err)
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; firstCert(t, certPEM).KeyUsage != want {
		t.Errorf("RSA leaf KeyUsage = %b; want %b", firstCert(t, certPEM).KeyUsage, want)
	}
}

func TestSignCSRInvalid(t *testing.T) {
	ca := newTestCA(t, "ca")
	good, _, err := NewCSR("tamper-me")
	if err != nil {
		t.Fatal(err)
	}
	// Change the signed subject: the CSR still parses but its self-signature fails.
	block, _ := pem.Decode(good)
	forged := bytes.Replace(block.Bytes, []byte("tamper-me"), []byte("tamper-mx"), 1)
	if bytes.Equal(forged, block.Bytes) {
		t.Fatal("common name not found in the CSR")
	}

	tests := []struct {
		name string
		csr  []byte
		want error
		msg  string
	}{
		{name: "empty", csr: nil, want: ErrInvalidPEM, msg: "is empty"},
		{name: "not PEM", csr: []byte("hello"), want: ErrInvalidPEM, msg: "is not PEM"},
		{name: "wrong block type", csr: ca.CertPEM, want: ErrInvalidPEM, msg: `has no "CERTIFICATE REQUEST" block`},
		{name: "garbage DER", csr: encodePEM("CERTIFICATE REQUEST", []byte{1, 2, 3}), want: ErrInvalidCSR},
		{name: "bad self-signature", csr: encodePEM("CERTIFICATE REQUEST", forged), want: ErrInvalidCSR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.SignCSR(tt.csr, clientRequest())
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("SignCSR(%s) = %v; want %v containing %q", tt.name, err, tt.want, tt.msg)
			}
		})
	}
}

func TestNewCSRInvalid(t *testing.T) {
	if _, _, err := NewCSR(""); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("NewCSR(\"\") = %v; want ErrInvalidRequest", err)
	}
}

func TestLoadCA(t *testing.T) {
	ca := newTestCA(t, "ca")
	otherCA := newTestCA(t, "other")
	leafPEM, leafKeyPEM := mustIssue(t, ca, serverRequest())

	ecKey := ca.Key.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := encodePEM("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	sec1PEM := append(ecParams, encodePEM("EC PRIVATE KEY", sec1)...)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "rsa-ca"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	rsaCertPEM := craftCert(t, rsaTmpl, rsaTmpl, &rsaKey.PublicKey, rsaKey)
	rsaKeyPEM := encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))

	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "ed-ca"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	edCertPEM := craftCert(t, edTmpl, edTmpl, edPub, edKey)
	edKeyPEM, err := encodeKey(edKey)
	if err != nil {
		t.Fatal(err)
	}

	noSignTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "no-sign"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	noSignPEM := craftCert(t, noSignTmpl, noSignTmpl, ecKey.Public(), ecKey)

	encrypted := &pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: sec1}

	tests := []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		want    error
		msg     string
	}{
		{name: "PKCS #8 ECDSA", certPEM: ca.CertPEM, keyPEM: ca.KeyPEM},
		{name: "SEC 1 after EC PARAMETERS", certPEM: ca.CertPEM, keyPEM: sec1PEM},
		{name: "PKCS #1 RSA", certPEM: rsaCertPEM, keyPEM: rsaKeyPEM},
		{name: "Ed25519", certPEM: edCertPEM, keyPEM: edKeyPEM},
		{name: "empty certificate", certPEM: nil, keyPEM: ca.KeyPEM, want: ErrInvalidPEM, msg: "CA certificate is empty"},
		{name: "certificate not PEM", certPEM: []byte("not pem"), keyPEM: ca.KeyPEM, want: ErrInvalidPEM, msg: "CA certificate is not PEM"},
		{name: "key in place of certificate", certPEM: ca.KeyPEM, keyPEM: ca.KeyPEM, want: ErrInvalidPEM, msg: `CA certificate has no "CERTIFICATE" block`},
		{name: "certificate garbage DER", certPEM: encodeCert([]byte{0x30, 0x03, 1, 2, 3}), keyPEM: ca.KeyPEM, want: ErrInvalidPEM, msg: "CA certificate:"},
		{name: "key not PEM", certPEM: ca.CertPEM, keyPEM: []byte("not pem"), want: ErrInvalidPEM, msg: "CA key is not PEM"},
		{name: "certificate in place of key", certPEM: ca.CertPEM, keyPEM: ca.CertPEM, want: ErrInvalidPEM, msg: `CA key has no "PRIVATE KEY" block`},
		{name: "key garbage DER", certPEM: ca.CertPEM, keyPEM: encodePEM("PRIVATE KEY", []byte{1, 2, 3}), want: ErrInvalidPEM, msg: "CA key:"},
		{name: "encrypted key", certPEM: ca.CertPEM, keyPEM: pem.EncodeToMemory(encrypted), want: ErrUnsupportedKey, msg: "CA key is encrypted"},
		{name: "leaf certificate", certPEM: leafPEM, keyPEM: leafKeyPEM, want: ErrNotCA, msg: `"m1" lacks the CA basic constraint`},
		{name: "CA without cert-sign usage", certPEM: noSignPEM, keyPEM: ca.KeyPEM, want: ErrNotCA, msg: "certificate-signing key usage"},
		{name: "key of another CA", certPEM: ca.CertPEM, keyPEM: otherCA.KeyPEM, want: ErrKeyMismatch, msg: `not the key of CA certificate "ca"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadCA(tt.certPEM, tt.keyPEM)
			if !errorIs(err, tt.want) || (err != nil && !strings.Contains(err.Error(), tt.msg)) {
				t.Fatalf("LoadCA = %v; want %v containing %q", err, tt.want, tt.msg)
			}
			if err != nil {
				return
			}
			// A loaded CA issues certificates that verify against it.
			certPEM, _ := mustIssue(t, got, serverRequest())
			if err := firstCert(t, certPEM).CheckSignatureFrom(got.Cert); err != nil {
				t.Errorf("certificate from loaded CA does not verify: %v", err)
			}
			if blocks := pemBlocks(got.KeyPEM); !slices.Equal(blocks, []string{"PRIVATE KEY"}) {
				t.Errorf("loaded KeyPEM blocks = %v; want [PRIVATE KEY]", blocks)
			}
		})
	}
}

func TestCAHash(t *testing.T) {
	ca := newTestCA(t, "ca")
	sum := sha256.Sum256(ca.Cert.Raw)
	want := hex.EncodeToString(sum[:])
	leafPEM, _ := mustIssue(t, ca, serverRequest())
	leaf := firstCert(t, leafPEM)
	leafSum := sha256.Sum256(leaf.Raw)

	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr error
	}{
		{name: "CA certificate", in: ca.CertPEM, want: want},
		{name: "first certificate of a chain", in: leafPEM, want: hex.EncodeToString(leafSum[:])},
		{name: "empty", in: nil, wantErr: ErrInvalidPEM},
		{name: "not PEM", in: []byte("x"), wantErr: ErrInvalidPEM},
		{name: "garbage DER", in: encodeCert([]byte{1}), wantErr: ErrInvalidPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CAHash(tt.in)
			if got != tt.want || !errorIs(err, tt.wantErr) {
				t.Errorf("CAHash = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestUsageString(t *testing.T) {
	tests := []struct {
		in   Usage
		want string
	}{
		{UsageServer, "server"},
		{UsageClient, "client"},
		{UsageServerAndClient, "server-and-client"},
		{0, "Usage(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Usage(%d).String() = %q; want %q", int(tt.in), got, tt.want)
			}
		})
	}
}

func TestCheckPublicKey(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xKey, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  any
		msg  string // empty for accepted keys
	}{
		{name: "ECDSA P-384", pub: &p384.PublicKey},
		{name: "Ed25519", pub: edPub},
		{name: "ECDSA P-224", pub: &p224.PublicKey, msg: "uses curve P-224"},
		{name: "RSA-1024", pub: &rsa1024.PublicKey, msg: "is RSA-1024; want at least 2048 bits"},
		{name: "X25519", pub: xKey.PublicKey(), msg: "has type *ecdh.PublicKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPublicKey(tt.pub, "key")
			if tt.msg == "" {
				if err != nil {
					t.Errorf("checkPublicKey(%s) = %v; want nil", tt.name, err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupportedKey) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("checkPublicKey(%s) = %v; want ErrUnsupportedKey containing %q", tt.name, err, tt.msg)
			}
		})
	}
}
