package master

import (
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/raftstore"
)

// kubeletClient holds the client certificate with which this master's API server reaches the
// node agents' kubelet API (pods/log, exec, attach, portforward). It is issued from the
// replicated CA on first use, so a master that joined and has not yet caught up still starts,
// and it is reissued in memory before it expires.
type kubeletClient struct {
	store *raftstore.Store

	mu   sync.Mutex // protects cert
	cert *tls.Certificate
}

// certificate is the tls.Config's GetClientCertificate.
func (k *kubeletClient) certificate(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !expiresSoon(k.cert) {
		return k.cert, nil
	}
	ca, err := readCA(info.Context(), k.store)
	if err != nil {
		return nil, fmt.Errorf("issue the kubelet client certificate: %w", err)
	}
	certPEM, keyPEM, err := ca.Issue(certRequest(apiserver.KubeletClientName, nil, nil, pki.UsageClient))
	if err != nil {
		return nil, fmt.Errorf("issue the kubelet client certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load the kubelet client certificate: %w", err)
	}
	k.cert = &pair
	return k.cert, nil
}

// kubeletTLS is the API server's client configuration for the kubelet API: the cluster CA as
// roots (agents serve certificates the CA signed for their addresses) and the client certificate.
func (m *Master) kubeletTLS() *tls.Config {
	k := &kubeletClient{store: m.store}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: m.id.caPool(), GetClientCertificate: k.certificate}
}
