package pki_test

import (
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
)

// A bootstrapping master creates the CA, its own serving certificate and a join token.
func ExampleCA_Issue() {
	ca, err := pki.NewCA("capstan-ca", 10*365*24*time.Hour)
	if err != nil {
		panic(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.CertRequest{
		CommonName: "m1",
		DNSNames:   []string{"m1.example.com", "localhost"},
		IPs:        []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("127.0.0.1")},
		Usage:      pki.UsageServerAndClient,
		Validity:   365 * 24 * time.Hour,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(string(certPEM), "BEGIN CERTIFICATE"), "certificates (leaf and CA)")
	fmt.Println(strings.Count(string(keyPEM), "BEGIN PRIVATE KEY"), "key")
	fmt.Println(ca.Cert.IsCA, ca.Cert.KeyUsage&x509.KeyUsageCertSign != 0)
	// Output:
	// 2 certificates (leaf and CA)
	// 1 key
	// true true
}

// A joining member parses its token and trusts the server only if it proves it holds a
// certificate from the pinned CA; the cluster checks the secret against its stored hash.
func ExampleParseJoinToken() {
	ca, err := pki.NewCA("capstan-ca", time.Hour)
	if err != nil {
		panic(err)
	}
	token, err := pki.NewJoinToken(ca.CertPEM)
	if err != nil {
		panic(err)
	}
	// The cluster stores only the hash of the secret.
	_, secret, _ := pki.ParseJoinToken(token)
	stored := pki.HashSecret(secret)

	// The joiner:
	caHash, secret, err := pki.ParseJoinToken(token)
	if err != nil {
		panic(err)
	}
	cfg, err := pki.PinnedClientTLSConfig(caHash, "10.0.0.1")
	if err != nil {
		panic(err)
	}
	want, _ := pki.CAHash(ca.CertPEM)
	fmt.Println(caHash == want, cfg.ServerName)
	fmt.Println(pki.CheckSecret(secret, stored))

	_, _, err = pki.ParseJoinToken("K1deadbeef::" + secret)
	fmt.Println(err)
	// Output:
	// true 10.0.0.1
	// true
	// pki: malformed join token: CA hash has 8 characters; want 64
}
