package pki

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// whoamiServer starts an HTTPS server with a certificate from ca that accepts optional client
// certificates and answers with the bearer token or the client certificate's common name.
func whoamiServer(t *testing.T, ca *CA) *httptest.Server {
	t.Helper()
	certPEM, keyPEM := mustIssue(t, ca, serverRequest())
	cfg, err := ServerTLSConfig(certPEM, keyPEM, ca.CertPEM, tls.VerifyClientCertIfGiven)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			io.WriteString(w, "token:"+token)
			return
		}
		if len(r.TLS.PeerCertificates) > 0 {
			io.WriteString(w, "cert:"+r.TLS.PeerCertificates[0].Subject.CommonName)
			return
		}
		io.WriteString(w, "anonymous")
	}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// getWith sends a GET to url with a client built from cfg and returns the body.
func getWith(t *testing.T, cfg *rest.Config, url string) string {
	t.Helper()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("rest.HTTPClientFor = %v", err)
	}
	client.Timeout = ioTimeout
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s = %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestWriteKubeconfig(t *testing.T) {
	ca := newTestCA(t, "ca")
	srv := whoamiServer(t, ca)
	token, err := NewBearerToken()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := mustIssue(t, ca, CertRequest{
		CommonName: "admin", Organizations: []string{"system:masters"}, Usage: UsageClient, Validity: time.Hour,
	})

	tests := []struct {
		name          string
		k             Kubeconfig
		wantNamespace string
		wantWhoami    string
	}{
		{
			name:       "bearer token",
			k:          Kubeconfig{ClusterName: "capstan", Server: srv.URL, CAPEM: ca.CertPEM, Token: token},
			wantWhoami: "token:" + token,
		},
		{
			name:          "client certificate and namespace",
			k:             Kubeconfig{ClusterName: "capstan", Server: srv.URL, CAPEM: ca.CertPEM, ClientCertPEM: certPEM, ClientKeyPEM: keyPEM, Namespace: "kube-system"},
			wantNamespace: "kube-system",
			wantWhoami:    "cert:admin",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.k.Path = filepath.Join(t.TempDir(), "new", ".kube", "config")
			if err := WriteKubeconfig(tt.k); err != nil {
				t.Fatalf("WriteKubeconfig = %v", err)
			}
			st, err := os.Stat(tt.k.Path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("kubeconfig mode = %v; want 0600", st.Mode().Perm())
			}
			dir, err := os.Stat(filepath.Dir(tt.k.Path))
			if err != nil || dir.Mode().Perm() != 0o700 {
				t.Errorf("kubeconfig directory = %v, %v; want mode 0700", dir.Mode(), err)
			}

			raw, err := clientcmd.LoadFromFile(tt.k.Path)
			if err != nil {
				t.Fatalf("clientcmd.LoadFromFile = %v", err)
			}
			if raw.CurrentContext != "capstan" || raw.Contexts["capstan"] == nil || raw.Clusters["capstan"] == nil || raw.AuthInfos["capstan"] == nil {
				t.Fatalf("kubeconfig names: current %q, contexts %v, clusters %v, users %v; want all %q",
					raw.CurrentContext, len(raw.Contexts), len(raw.Clusters), len(raw.AuthInfos), "capstan")
			}
			ns, _, err := clientcmd.NewDefaultClientConfig(*raw, nil).Namespace()
			if want := tt.wantNamespace; err != nil || (want != "" && ns != want) || (want == "" && ns != "default") {
				t.Errorf("Namespace() = %q, %v; want %q", ns, err, tt.wantNamespace)
			}

			cfg, err := clientcmd.BuildConfigFromFlags("", tt.k.Path)
			if err != nil {
				t.Fatalf("clientcmd.BuildConfigFromFlags = %v", err)
			}
			if cfg.Host != srv.URL || cfg.BearerToken != tt.k.Token || !bytes.Equal(cfg.CAData, ca.CertPEM) {
				t.Errorf("rest.Config = host %q, token %v, CA equal %v; want %q, %v, true", cfg.Host, cfg.BearerToken != "", bytes.Equal(cfg.CAData, ca.CertPEM), srv.URL, tt.k.Token != "")
			}
			if !bytes.Equal(cfg.CertData, tt.k.ClientCertPEM) || !bytes.Equal(cfg.KeyData, tt.k.ClientKeyPEM) {
				t.Error("rest.Config client certificate differs from the one written")
			}
			if got := getWith(t, cfg, srv.URL); got != tt.wantWhoami {
				t.Errorf("GET with the kubeconfig = %q; want %q", got, tt.wantWhoami)
			}
		})
	}
}

func TestWriteKubeconfigInvalid(t *testing.T) {
	ca := newTestCA(t, "ca")
	certPEM, keyPEM := mustIssue(t, ca, clientRequest())
	serverCert, serverKey := mustIssue(t, ca, serverRequest())
	valid := func() Kubeconfig {
		return Kubeconfig{Path: filepath.Join(t.TempDir(), "config"), ClusterName: "c", Server: "https://10.0.0.1:6443", CAPEM: ca.CertPEM, Token: "t"}
	}
	tests := []struct {
		name   string
		modify func(*Kubeconfig)
		msgs   []string
		also   error
	}{
		{name: "no path", modify: func(k *Kubeconfig) { k.Path = "" }, msgs: []string{"path is empty"}},
		{name: "no cluster name", modify: func(k *Kubeconfig) { k.ClusterName = "" }, msgs: []string{"cluster name is empty"}},
		{name: "http server", modify: func(k *Kubeconfig) { k.Server = "http://10.0.0.1:6443" }, msgs: []string{`server "http://10.0.0.1:6443" is not an https URL`}},
		{name: "server without host", modify: func(k *Kubeconfig) { k.Server = "https://" }, msgs: []string{"is not an https URL"}},
		{name: "no CA", modify: func(k *Kubeconfig) { k.CAPEM = nil }, msgs: []string{"CA certificates is empty"}, also: ErrInvalidPEM},
		{name: "no credentials", modify: func(k *Kubeconfig) { k.Token = "" }, msgs: []string{"neither a token nor a client certificate"}},
		{name: "token and certificate", modify: func(k *Kubeconfig) { k.ClientCertPEM, k.ClientKeyPEM = certPEM, keyPEM }, msgs: []string{"both a token and a client certificate"}},
		{name: "token with newline", modify: func(k *Kubeconfig) { k.Token = "abc\n" }, msgs: []string{"token contains white space"}},
		{name: "certificate without key", modify: func(k *Kubeconfig) { k.Token, k.ClientCertPEM = "", certPEM }, msgs: []string{"client key is empty"}, also: ErrInvalidPEM},
		{name: "server certificate", modify: func(k *Kubeconfig) { k.Token, k.ClientCertPEM, k.ClientKeyPEM = "", serverCert, serverKey }, msgs: []string{"not valid for client authentication"}, also: ErrInvalidTLSConfig},
		{name: "every problem at once", modify: func(k *Kubeconfig) { *k = Kubeconfig{} }, msgs: []string{"path is empty", "cluster name is empty", "not an https URL", "CA certificates is empty", "neither a token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := valid()
			tt.modify(&k)
			err := WriteKubeconfig(k)
			if !errors.Is(err, ErrInvalidKubeconfig) || (tt.also != nil && !errors.Is(err, tt.also)) {
				t.Fatalf("WriteKubeconfig = %v; want ErrInvalidKubeconfig (and %v)", err, tt.also)
			}
			for _, msg := range tt.msgs {
				if !strings.Contains(err.Error(), msg) {
					t.Errorf("WriteKubeconfig = %v; want it to contain %q", err, msg)
				}
			}
			if k.Path != "" {
				if _, err := os.Stat(k.Path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("invalid kubeconfig was written: stat = %v", err)
				}
			}
		})
	}
}
