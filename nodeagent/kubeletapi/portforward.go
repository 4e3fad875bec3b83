package kubeletapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	gwebsocket "github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	portforwardconsts "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/tools/portforward"
	kportforward "k8s.io/kubelet/pkg/cri/streaming/portforward"
)

// servePortForward serves /portForward: SPDY/3.1 with the portforward.k8s.io protocol, either
// tunnelled in WebSocket binary messages (subprotocol SPDY/3.1+portforward.k8s.io, which
// kubectl tries first) or directly (kubectl's fallback). The client opens a data and an error
// stream per forwarded connection, naming the pod's port in their headers. Errors are returned
// only before the connection is upgraded.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, t target) error {
	uid, err := s.podUID(t)
	if err != nil {
		return err
	}
	switch {
	case wsstream.IsWebSocketRequest(r):
		if !offersProtocol(r, portforwardconsts.WebsocketsSPDYTunnelingPortForwardV1) {
			return badRequest(fmt.Sprintf("unsupported WebSocket subprotocols %q: use %s, or SPDY/3.1",
				r.Header.Values(wsstream.WebSocketProtocolHeader), portforwardconsts.WebsocketsSPDYTunnelingPortForwardV1))
		}
		s.servePortForwardTunnel(w, r, t, uid)
	case isSPDYUpgrade(r):
		if !offersStreamProtocol(r, portforwardconsts.PortForwardV1Name) {
			return badRequest(fmt.Sprintf("unsupported %s %q: use %s", httpstream.HeaderProtocolVersion,
				r.Header.Values(httpstream.HeaderProtocolVersion), portforwardconsts.PortForwardV1Name))
		}
		s.servePortForwardSPDY(w, r, t, uid)
	default:
		return badRequest(fmt.Sprintf("/portForward needs a WebSocket (%s) or SPDY/3.1 upgrade", portforwardconsts.WebsocketsSPDYTunnelingPortForwardV1))
	}
	return nil
}

// servePortForwardSPDY runs a port-forward session over SPDY/3.1 with kubelet's library, which
// pairs each data stream with its error stream and calls the forwarder.
func (s *Server) servePortForwardSPDY(w http.ResponseWriter, r *http.Request, t target, uid string) {
	sess := newSession(w, r)
	defer sess.end()
	f := &forwarder{rt: s.cfg.Runtime, ctx: sess.ctx, uid: uid}
	// Returns once the connection is closed: by the client, after the idle timeout, or by the
	// session's end.
	kportforward.ServePortForward(sess.w, r.WithContext(sess.ctx), f, t.pod, types.UID(uid), nil,
		s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, kportforward.SupportedProtocols)
	sess.cancel()
	f.stop()
}

// servePortForwardTunnel runs a port-forward session whose SPDY connection is tunnelled in
// WebSocket binary messages: it answers the WebSocket handshake, then serves SPDY on the
// tunnel through a ResponseWriter whose Hijack returns the tunnel.
func (s *Server) servePortForwardTunnel(w http.ResponseWriter, r *http.Request, t target, uid string) {
	sess := newSession(w, r)
	defer sess.end()
	upgrader := gwebsocket.Upgrader{
		Subprotocols: []string{portforwardconsts.WebsocketsSPDYTunnelingPortForwardV1},
		// The clients are API servers that authenticated with a certificate, not browsers.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, code int, reason error) {
			s.writeError(w, r, &requestError{code: int32(code), reason: metav1.StatusReasonBadRequest, msg: reason.Error()})
		},
	}
	ws, err := upgrader.Upgrade(sess.w, r, nil)
	if err != nil {
		s.log.Info("kubelet API: port-forward WebSocket upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	tunnel := portforward.NewTunnelingConnection("server", ws)
	defer tunnel.Close()
	// The SPDY handshake the library expects, as the tunnel stands for it.
	req := r.Clone(sess.ctx)
	req.Method = http.MethodPost
	req.Header = http.Header{}
	req.Header.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	req.Header.Set(httpstream.HeaderUpgrade, spdy.HeaderSpdy31)
	req.Header.Set(httpstream.HeaderProtocolVersion, portforwardconsts.PortForwardV1Name)
	f := &forwarder{rt: s.cfg.Runtime, ctx: sess.ctx, uid: uid}
	tw := &tunnelWriter{conn: tunnel, header: http.Header{}, log: s.log}
	kportforward.ServePortForward(tw, req, f, t.pod, types.UID(uid), nil,
		s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, kportforward.SupportedProtocols)
	sess.cancel()
	f.stop()
}

// tunnelWriter is the ResponseWriter kubelet's port-forward library upgrades through inside a
// WebSocket tunnel. The WebSocket handshake has answered the client already, so the SPDY
// handshake's 101 is dropped and Hijack returns the tunnel. The library uses it from one
// goroutine.
type tunnelWriter struct {
	conn   net.Conn
	header http.Header
	log    *slog.Logger
}

var _ http.Hijacker = (*tunnelWriter)(nil)

// Header returns the SPDY handshake's response headers, which go nowhere.
func (w *tunnelWriter) Header() http.Header { return w.header }

// WriteHeader drops the SPDY handshake's status.
func (w *tunnelWriter) WriteHeader(int) {}

// Write drops a response body, which the library writes only when its handshake fails.
func (w *tunnelWriter) Write(p []byte) (int, error) {
	w.log.Info("kubelet API: port-forward handshake failed inside the WebSocket tunnel", "response", string(p))
	return 0, errTunnelResponse
}

// Hijack returns the tunnel.
func (w *tunnelWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), bufio.NewWriter(w.conn)), nil
}

// forwarder runs the library's port forwards on the Runtime. The library calls PortForward from
// a goroutine per stream pair, with a background context: the forwarder uses the session's
// context instead, and stop waits for every call to return.
type forwarder struct {
	rt  Runtime
	ctx context.Context
	uid string

	mu      sync.Mutex // protects stopped and calls' Add
	stopped bool
	calls   sync.WaitGroup
}

var _ kportforward.PortForwarder = (*forwarder)(nil)

// PortForward connects stream to port in the forwarder's pod.
func (f *forwarder) PortForward(_ context.Context, _ string, _ types.UID, port int32, stream io.ReadWriteCloser) error {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		_ = stream.Close()
		return errSessionEnded
	}
	f.calls.Add(1)
	f.mu.Unlock()
	defer f.calls.Done()
	return f.rt.PortForward(f.ctx, f.uid, port, stream)
}

// stop refuses further forwards and waits for the running ones, which end with the session's
// context.
func (f *forwarder) stop() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.calls.Wait()
}

// offersStreamProtocol tells whether a SPDY request offers the stream protocol in
// X-Stream-Protocol-Version.
func offersStreamProtocol(r *http.Request, protocol string) bool {
	for _, v := range r.Header.Values(httpstream.HeaderProtocolVersion) {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == protocol {
				return true
			}
		}
	}
	return false
}
