package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Names the fake pods know.
const (
	testNamespace = "default"
	testPod       = "web"
	testPodUID    = "uid-web"
	// testContainer has a current attempt c-app-1 and a previous one c-app-0.
	testContainer = "app"
	// testSidecar has only a current attempt.
	testSidecar = "sidecar"
)

// fakePods knows the pod default/web with containers app (two attempts) and sidecar.
type fakePods struct{}

var _ Pods = fakePods{}

func (fakePods) PodUID(namespace, name string) (string, error) {
	if namespace == testNamespace && name == testPod {
		return testPodUID, nil
	}
	return "", ErrPodNotFound
}

func (fakePods) ContainerID(namespace, pod, container string, previous bool) (string, error) {
	if namespace != testNamespace || pod != testPod {
		return "", ErrPodNotFound
	}
	switch {
	case container == testContainer && previous:
		return "c-app-0", nil
	case container == testContainer:
		return "c-app-1", nil
	case container == testSidecar && !previous:
		return "c-side-0", nil
	}
	return "", ErrContainerNotFound
}

// testLogLines is what the fake's containers logged.
var testLogLines = []string{"one", "two", "three"}

// fakeRuntime runs commands by name (see Exec), logs testLogLines and forwards ports to a TCP
// echo server.
type fakeRuntime struct {
	// echoAddr is the address PortForward connects to.
	echoAddr string
	// blocked receives a note when a call starts waiting for its context (exec sleep, attach
	// without stdin, logs follow); ended receives one when such a call's context ended.
	blocked, ended chan string

	mu       sync.Mutex // protects logOpts, logIDs and ports
	logOpts  []runtime.LogOptions
	logIDs   []string
	ports    []int32
	podUIDs  []string
	execCmds [][]string
}

var _ Runtime = (*fakeRuntime)(nil)

func newFakeRuntime(t *testing.T) *fakeRuntime {
	return &fakeRuntime{echoAddr: startEcho(t), blocked: make(chan string, 16), ended: make(chan string, 16)}
}

// known tells whether id is one of fakePods' containers.
func known(id string) bool {
	return id == "c-app-0" || id == "c-app-1" || id == "c-side-0"
}

// Exec runs these commands:
//
//	echo ARGS…   prints ARGS to stdout
//	whoami       prints the container ID
//	cat          copies stdin to stdout
//	stderr ARGS… prints ARGS to stderr
//	exit N       prints "exiting" to stderr and exits with N
//	sh -c 'exit N' exits with N
//	tty          prints tty=BOOL, then each terminal size as WxH until stdin ends
//	sleep        waits for its context to end
//	fail         fails with runtime.ErrNotRunning
func (f *fakeRuntime) Exec(ctx context.Context, id string, cmd []string, s runtime.Streams) (int, error) {
	if !known(id) {
		return 0, runtime.ErrNotFound
	}
	f.mu.Lock()
	f.execCmds = append(f.execCmds, cmd)
	f.mu.Unlock()
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
	case "whoami":
		fmt.Fprintln(s.Stdout, id)
	case "cat":
		if _, err := io.Copy(s.Stdout, s.Stdin); err != nil {
			return 0, err
		}
	case "stderr":
		fmt.Fprintln(s.Stderr, strings.Join(cmd[1:], " "))
	case "exit":
		fmt.Fprintln(s.Stderr, "exiting")
		return strconv.Atoi(cmd[1])
	case "sh":
		if len(cmd) == 3 && strings.HasPrefix(cmd[2], "exit ") {
			return strconv.Atoi(strings.TrimPrefix(cmd[2], "exit "))
		}
		return 127, nil
	case "tty":
		fmt.Fprintf(s.Stdout, "tty=%t\n", s.TTY)
		stdinDone := make(chan struct{})
		go func() {
			defer close(stdinDone)
			_, _ = io.Copy(io.Discard, s.Stdin)
		}()
		resize := s.Resize
		for {
			select {
			case size, ok := <-resize:
				if !ok {
					resize = nil
					continue
				}
				fmt.Fprintf(s.Stdout, "%dx%d\n", size.Width, size.Height)
			case <-stdinDone:
				return 0, nil
			case <-ctx.Done():
				<-stdinDone // the session's end closes stdin
				return 0, ctx.Err()
			}
		}
	case "sleep":
		f.blocked <- "exec " + id
		<-ctx.Done()
		f.ended <- "exec " + id
		return 0, ctx.Err()
	case "fail":
		return 0, fmt.Errorf("%w: %s", runtime.ErrNotRunning, id)
	default:
		fmt.Fprintf(s.Stderr, "%s: command not found\n", cmd[0])
		return 127, nil
	}
	return 0, nil
}

// Attach prints "attached to ID", then copies stdin to stdout, or without stdin waits for its
// context to end.
func (f *fakeRuntime) Attach(ctx context.Context, id string, s runtime.Streams) error {
	if !known(id) {
		return runtime.ErrNotFound
	}
	fmt.Fprintf(s.Stdout, "attached to %s\n", id)
	if s.Stdin != nil {
		_, err := io.Copy(s.Stdout, s.Stdin)
		return err
	}
	f.blocked <- "attach " + id
	<-ctx.Done()
	f.ended <- "attach " + id
	return ctx.Err()
}

// PortForward connects conn to the echo server; port 1 is refused.
func (f *fakeRuntime) PortForward(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error {
	defer conn.Close()
	f.mu.Lock()
	f.ports = append(f.ports, port)
	f.podUIDs = append(f.podUIDs, podUID)
	f.mu.Unlock()
	if port == 1 {
		return errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	c, err := net.Dial("tcp", f.echoAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_, _ = io.Copy(c, conn)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(conn, c)
	_ = conn.Close()
	select {
	case <-sent:
	case <-ctx.Done():
	}
	return err
}

// Logs writes testLogLines, one write each, honouring TailLines and Timestamps, then with
// Follow waits for its context to end.
func (f *fakeRuntime) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	if !known(id) {
		return runtime.ErrNotFound
	}
	f.mu.Lock()
	f.logOpts = append(f.logOpts, opts)
	f.logIDs = append(f.logIDs, id)
	f.mu.Unlock()
	lines := testLogLines
	if opts.TailLines != nil && int(*opts.TailLines) < len(lines) {
		lines = lines[len(lines)-int(*opts.TailLines):]
	}
	for _, l := range lines {
		if opts.Timestamps {
			l = "2025-01-02T03:04:05Z " + l
		}
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	if opts.Follow {
		f.blocked <- "logs " + id
		<-ctx.Done()
		f.ended <- "logs " + id
		return ctx.Err()
	}
	return nil
}

// startEcho starts a TCP echo server and returns its address.
func startEcho(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and client certificates.
type testPKI struct {
	caPEM []byte
	pool  *x509.CertPool
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	// server is the kubelet API's certificate.
	server tls.Certificate
	// clientPEM and clientKeyPEM are a client certificate with CN capstan-apiserver.
	clientPEM, clientKeyPEM []byte
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubeletapi test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: x509.NewCertPool(), ca: ca, caKey: key}
	p.pool.AddCert(ca)
	certPEM, keyPEM := p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	if p.server, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	p.clientPEM, p.clientKeyPEM = p.issue(t, "capstan-apiserver", x509.ExtKeyUsageClientAuth)
	return p
}

// issue returns a certificate and key signed by the CA; a server certificate's CN is its IP.
func (p *testPKI) issue(t testing.TB, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// serverTLS is the kubelet API's TLS configuration: client certificates are verified when given.
func (p *testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
}

// clientTLS is the configuration of a client with the capstan-apiserver certificate.
func (p *testPKI) clientTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(p.clientPEM, p.clientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}
}

// testServer is a running Server with its fake runtime.
type testServer struct {
	addr string
	pki  *testPKI
	rt   *fakeRuntime
	// stop stops Serve and returns its result.
	stop func() error
}

// startServer runs a Server on 127.0.0.1:0 with the fakes; mutate adjusts its Config. The
// server is stopped when the test ends.
func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	pki := newTestPKI(t)
	rt := newFakeRuntime(t)
	cfg := DefaultConfig()
	cfg.Runtime = rt
	cfg.Pods = fakePods{}
	cfg.TLS = pki.serverTLS()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				result = errors.New("Serve did not return within 30s of its context's end")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{addr: l.Addr().String(), pki: pki, rt: rt, stop: stop}
}

// restConfig is a client-go configuration for the server with the capstan-apiserver certificate.
func (ts *testServer) restConfig() *rest.Config {
	return &rest.Config{Host: "https://" + ts.addr, TLSClientConfig: rest.TLSClientConfig{
		CAData: ts.pki.caPEM, CertData: ts.pki.clientPEM, KeyData: ts.pki.clientKeyPEM}}
}

// httpClient returns a client that trusts the server, with the client certificate or without.
func (ts *testServer) httpClient(t *testing.T, withCert bool) *http.Client {
	cfg := ts.pki.clientTLS(t)
	if !withCert {
		cfg.Certificates = nil
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// waitFor receives from ch, failing the test after a deadline.
func waitFor(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
}
