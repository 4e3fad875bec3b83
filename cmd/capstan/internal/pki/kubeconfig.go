package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig describes a kubeconfig file with one cluster, one user and one context.
type Kubeconfig struct {
	// Path is the file to write. Its directory is created (0700) if missing.
	Path string
	// ClusterName names the cluster, the user and the context, which is the current one.
	ClusterName string
	// Server is the API server's https URL, e.g. "https://10.0.0.1:6443".
	Server string
	// CAPEM holds the CA certificates that verify the server.
	CAPEM []byte
	// Token is the user's bearer token. When empty, the user authenticates with
	// ClientCertPEM and ClientKeyPEM; the two ways are exclusive.
	Token string
	// ClientCertPEM is the user's client certificate chain, used when Token is empty.
	ClientCertPEM []byte
	// ClientKeyPEM is the client certificate's private key.
	ClientKeyPEM []byte
	// Namespace is the context's default namespace; empty means "default".
	Namespace string
}

// validate reports every problem with k, each wrapping ErrInvalidKubeconfig and, for bad
// certificates or keys, the error that describes them.
func (k Kubeconfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidKubeconfig}, args...)...))
	}
	if k.Path == "" {
		bad("path is empty")
	}
	if strings.TrimSpace(k.ClusterName) == "" {
		bad("cluster name is empty")
	}
	if u, err := url.Parse(k.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("server %q is not an https URL", k.Server)
	}
	if _, err := certPool(k.CAPEM, "CA"); err != nil {
		bad("%w", err)
	}
	hasCert := len(k.ClientCertPEM) > 0 || len(k.ClientKeyPEM) > 0
	switch {
	case k.Token != "" && hasCert:
		bad("both a token and a client certificate are given")
	case k.Token != "":
		if strings.ContainsAny(k.Token, " \t\r\n") {
			bad("token contains white space")
		}
	case !hasCert:
		bad("neither a token nor a client certificate is given")
	default:
		if _, err := keyPair(k.ClientCertPEM, k.ClientKeyPEM, "client", x509.ExtKeyUsageClientAuth); err != nil {
			bad("%w", err)
		}
	}
	return errors.Join(errs...)
}

// WriteKubeconfig writes k as a kubeconfig file readable by kubectl and client-go, with mode
// 0600 and through WriteFileAtomic. The certificates and key are embedded as data, not file
// references. Invalid input is reported all at once, each problem wrapping
// ErrInvalidKubeconfig.
func WriteKubeconfig(k Kubeconfig) error {
	if err := k.validate(); err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[k.ClusterName] = &clientcmdapi.Cluster{
		Server:                   k.Server,
		CertificateAuthorityData: k.CAPEM,
	}
	user := &clientcmdapi.AuthInfo{}
	if k.Token != "" {
		user.Token = k.Token
	} else {
		user.ClientCertificateData = k.ClientCertPEM
		user.ClientKeyData = k.ClientKeyPEM
	}
	cfg.AuthInfos[k.ClusterName] = user
	cfg.Contexts[k.ClusterName] = &clientcmdapi.Context{
		Cluster:   k.ClusterName,
		AuthInfo:  k.ClusterName,
		Namespace: k.Namespace,
	}
	cfg.CurrentContext = k.ClusterName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("pki: encode kubeconfig %s: %v", k.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(k.Path), 0o700); err != nil {
		return fmt.Errorf("pki: write kubeconfig: %w", err)
	}
	return WriteFileAtomic(k.Path, data, 0o600)
}
