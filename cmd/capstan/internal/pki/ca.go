package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// clockSkew is how far before "now" certificates become valid, so that members whose clocks
// lag slightly behind the issuer's accept them at once.
const clockSkew = 5 * time.Minute

// CA is the cluster's certificate authority. Its fields are set by NewCA and LoadCA and must
// not be modified; a CA is safe for concurrent use.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// CertPEM is Cert as a single PEM "CERTIFICATE" block.
	CertPEM []byte
	// KeyPEM is Key as a PEM "PRIVATE KEY" (PKCS #8) block.
	KeyPEM []byte
}

// NewCA creates a self-signed certificate authority with a new ECDSA P-256 key. The
// certificate is valid from a few minutes ago (to tolerate clock skew) until validity from
// now, may sign certificates and CRLs, and may not sign intermediate CAs.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, fmt.Errorf("%w: CA common name is empty", ErrInvalidRequest)
	}
	if validity <= 0 {
		return nil, fmt.Errorf("%w: CA validity %s is not positive", ErrInvalidRequest, validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %v", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new CA certificate: %v", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der), KeyPEM: keyPEM}, nil
}

// LoadCA parses a CA certificate and its private key. certPEM's first "CERTIFICATE" block is
// the CA; keyPEM may hold a PKCS #8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS #1
// ("RSA PRIVATE KEY") key, and other blocks such as "EC PARAMETERS" are skipped. The error
// wraps ErrInvalidPEM, ErrNotCA, ErrKeyMismatch or ErrUnsupportedKey and says what is wrong.
// The returned CA's CertPEM and KeyPEM are re-encoded: one certificate block and a PKCS #8 key.
// An expired CA loads; Issue and SignCSR then fail with ErrCAExpired.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM, "CA certificate")
	if err != nil {
		return nil, err
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%w: %q lacks the CA basic constraint", ErrNotCA, cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %q lacks the certificate-signing key usage", ErrNotCA, cert.Subject.CommonName)
	}
	key, err := parseKey(keyPEM, "CA key")
	if err != nil {
		return nil, err
	}
	if err := checkPublicKey(key.Public(), "CA key"); err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%w: the CA key is not the key of CA certificate %q", ErrKeyMismatch, cert.Subject.CommonName)
	}
	normKey, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(cert.Raw), KeyPEM: normKey}, nil
}

// Usage selects the extended key usages of an issued certificate. The zero value is invalid,
// so that every CertRequest states its usage.
type Usage int

// Usages of issued certificates.
const (
	// UsageServer is a TLS server certificate (extended key usage serverAuth).
	UsageServer Usage = iota + 1
	// UsageClient is a TLS client certificate (extended key usage clientAuth).
	UsageClient
	// UsageServerAndClient is both, for masters that accept and make peer connections.
	UsageServerAndClient
)

// String returns the usage's name, e.g. "server".
func (u Usage) String() string {
	switch u {
	case UsageServer:
		return "server"
	case UsageClient:
		return "client"
	case UsageServerAndClient:
		return "server-and-client"
	default:
		return fmt.Sprintf("Usage(%d)", int(u))
	}
}

// extKeyUsages returns the extended key usages of u.
func (u Usage) extKeyUsages() []x509.ExtKeyUsage {
	switch u {
	case UsageServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case UsageClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case UsageServerAndClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		return nil
	}
}

// CertRequest describes a certificate to issue.
type CertRequest struct {
	// CommonName is the subject's common name; for client certificates it is the user name.
	// It must not be empty.
	CommonName string
	// Organizations are the subject's organizations; for client certificates, the groups.
	Organizations []string
	// DNSNames are the DNS subject alternative names. Certificates for server use need at
	// least one DNS name or IP, since host names are verified against them only.
	DNSNames []string
	// IPs are the IP address subject alternative names.
	IPs []net.IP
	// Usage is the certificate's extended key usage; the zero value is rejected.
	Usage Usage
	// Validity is how long the certificate is valid from now. It is cut short to the CA's
	// own expiry.
	Validity time.Duration
}

// validate checks r and returns an error wrapping ErrInvalidRequest naming the bad field.
func (r CertRequest) validate() error {
	if strings.TrimSpace(r.CommonName) == "" {
		return fmt.Errorf("%w: common name is empty", ErrInvalidRequest)
	}
	if r.Usage.extKeyUsages() == nil {
		return fmt.Errorf("%w: unknown usage %s", ErrInvalidRequest, r.Usage)
	}
	if r.Validity <= 0 {
		return fmt.Errorf("%w: validity %s is not positive", ErrInvalidRequest, r.Validity)
	}
	for _, name := range r.DNSNames {
		if err := validateDNSName(name); err != nil {
			return err
		}
	}
	for i, ip := range r.IPs {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("%w: IP #%d has %d bytes", ErrInvalidRequest, i, len(ip))
		}
	}
	if r.Usage != UsageClient && len(r.DNSNames) == 0 && len(r.IPs) == 0 {
		return fmt.Errorf("%w: %s certificate %q has no DNS name or IP", ErrInvalidRequest, r.Usage, r.CommonName)
	}
	return nil
}

// validateDNSName rejects names that cannot be DNS subject alternative names: empty or too
// long names, IP addresses and names with characters other than letters, digits and "-._*"
// (a port or a URL, say).
func validateDNSName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty DNS name", ErrInvalidRequest)
	case len(name) > 253:
		return fmt.Errorf("%w: DNS name of %d characters is longer than 253", ErrInvalidRequest, len(name))
	case net.ParseIP(name) != nil:
		return fmt.Errorf("%w: DNS name %q is an IP address; list it in IPs", ErrInvalidRequest, name)
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '*') {
			return fmt.Errorf("%w: DNS name %q contains %q; want letters, digits and - . _ *", ErrInvalidRequest, name, c)
		}
	}
	return nil
}

// Issue issues a certificate for req with a new ECDSA P-256 key. certPEM holds the leaf
// followed by the CA certificate, so that a server presenting it can be verified by
// PinnedClientTLSConfig; keyPEM is the PKCS #8 key. The error wraps ErrInvalidRequest or
// ErrCAExpired.
func (ca *CA) Issue(req CertRequest) (certPEM, keyPEM []byte, err error) {
	if err := req.validate(); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %v", err)
	}
	certPEM, err = ca.sign(&key.PublicKey, req)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// SignCSR issues a certificate for the public key of the PEM "CERTIFICATE REQUEST" csrPEM.
// The subject, SANs and usages come from req; everything in the CSR except its public key is
// ignored, and its self-signature must verify, proving possession of the private key. certPEM
// holds the leaf followed by the CA certificate. The error wraps ErrInvalidPEM, ErrInvalidCSR,
// ErrUnsupportedKey, ErrInvalidRequest or ErrCAExpired.
func (ca *CA) SignCSR(csrPEM []byte, req CertRequest) (certPEM []byte, err error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	block, err := findBlock(csrPEM, "certificate signing request", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: self-signature does not verify: %v", ErrInvalidCSR, err)
	}
	if err := checkPublicKey(csr.PublicKey, "CSR key"); err != nil {
		return nil, err
	}
	return ca.sign(csr.PublicKey, req)
}

// sign issues a certificate for pub as described by the validated req and returns the leaf
// and CA certificates as PEM.
func (ca *CA) sign(pub crypto.PublicKey, req CertRequest) ([]byte, error) {
	now := time.Now()
	notBefore := now.Add(-clockSkew)
	if notBefore.Before(ca.Cert.NotBefore) {
		notBefore = ca.Cert.NotBefore
	}
	notAfter := now.Add(req.Validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("%w: %q expired at %s", ErrCAExpired, ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	keyUsage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		keyUsage |= x509.KeyUsageKeyEncipherment
	}
	ips := make([]net.IP, len(req.IPs))
	for i, ip := range req.IPs {
		ips[i] = append(net.IP(nil), ip...)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   req.CommonName,
			Organization: append([]string(nil), req.Organizations...),
		},
		DNSNames:              append([]string(nil), req.DNSNames...),
		IPAddresses:           ips,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           req.Usage.extKeyUsages(),
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign certificate %q: %v", req.CommonName, err)
	}
	var b bytes.Buffer
	b.Write(encodeCert(der))
	b.Write(ca.CertPEM)
	return b.Bytes(), nil
}

// NewCSR creates a certificate signing request for commonName with a new ECDSA P-256 key.
// The CA decides the rest of the certificate (see SignCSR).
func NewCSR(commonName string) (csrPEM, keyPEM []byte, err error) {
	if strings.TrimSpace(commonName) == "" {
		return nil, nil, fmt.Errorf("%w: CSR common name is empty", ErrInvalidRequest)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %v", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CSR: %v", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodePEM("CERTIFICATE REQUEST", der), keyPEM, nil
}

// CAHash returns the hex SHA-256 of the CA certificate's DER bytes, in lower case. It reads
// the first "CERTIFICATE" block of caCertPEM, which must parse as a certificate.
func CAHash(caCertPEM []byte) (string, error) {
	cert, err := parseCert(caCertPEM, "CA certificate")
	if err != nil {
		return "", err
	}
	return certHash(cert), nil
}

// certHash returns the lower-case hex SHA-256 of cert's DER bytes.
func certHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("pki: generate serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
