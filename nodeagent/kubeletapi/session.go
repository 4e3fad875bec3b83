package kubeletapi

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
)

// session is the lifetime of one upgraded connection: an exec, attach or port-forward. Its
// context ends when the handler ends it, when the request's context ends (Serve stopping), or
// when the hijacked connection fails or is closed (the client went away, the protocol layer
// gave up after its idle timeout). Once the context has ended the connection is closed, which
// unblocks every reader and writer of it; end waits for that close.
//
// Requests served over a hijacked connection get no context cancellation from net/http, so
// this is what ends the runtime calls of a client that disconnected.
type session struct {
	ctx    context.Context
	cancel context.CancelFunc
	// w is the response writer to upgrade through; its Hijack ties the connection to ctx.
	w *hijackWriter
}

// newSession starts a session for a request that is about to be upgraded.
func newSession(w http.ResponseWriter, r *http.Request) *session {
	ctx, cancel := context.WithCancel(r.Context())
	return &session{ctx: ctx, cancel: cancel, w: &hijackWriter{ResponseWriter: w, ctx: ctx, cancel: cancel}}
}

// end cancels the session and returns once its connection, if one was hijacked, is closed.
func (s *session) end() {
	s.cancel()
	s.w.mu.Lock()
	closed := s.w.closed
	s.w.mu.Unlock()
	if closed != nil {
		<-closed
	}
}

// hijackWriter is a ResponseWriter whose Hijack returns a connection that ends the session
// when it fails or is closed, and that is closed when the session ends.
type hijackWriter struct {
	http.ResponseWriter
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex // protects closed
	// closed is closed once the hijacked connection has been closed after the session ended;
	// nil until Hijack.
	closed chan struct{}
}

var _ http.Hijacker = (*hijackWriter)(nil)

// Hijack takes over the connection. The returned ReadWriter reads and writes through the
// returned connection, whose reads first drain what net/http had already buffered.
func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	closed := make(chan struct{})
	// The function runs in its own goroutine once the session's context ends; end waits
	// for it.
	context.AfterFunc(h.ctx, func() {
		defer close(closed)
		_ = c.Close()
	})
	h.mu.Lock()
	h.closed = closed
	h.mu.Unlock()
	sc := &sessionConn{Conn: c, r: brw.Reader, cancel: h.cancel}
	return sc, bufio.NewReadWriter(bufio.NewReader(sc), bufio.NewWriter(sc)), nil
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (h *hijackWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// sessionConn is a hijacked connection that ends its session when a read fails or when it is
// closed.
type sessionConn struct {
	net.Conn
	// r holds what net/http read ahead, then reads from Conn.
	r      *bufio.Reader
	cancel context.CancelFunc
}

// Read reads from the connection; an error ends the session.
func (c *sessionConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// Close ends the session and closes the connection.
func (c *sessionConn) Close() error {
	c.cancel()
	return c.Conn.Close()
}
