// Package mux shares one TCP listener, optionally with TLS, between the protocols of the peer
// port. A client names its protocol in the first byte it sends after the (TLS) handshake.
package mux

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by Accept after the listener is closed.
var ErrClosed = errors.New("mux: listener closed")

// handshakeTimeout bounds the TLS handshake and the protocol byte of an accepted connection.
const handshakeTimeout = 10 * time.Second

// Listener accepts connections and routes each to the sub-listener of its protocol byte.
type Listener struct {
	ln  net.Listener
	tls *tls.Config
	log *slog.Logger

	mu     sync.Mutex // protects subs, conns and closed
	subs   map[byte]*subListener
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup // the accept loop and handshake goroutines
}

// Listen listens on addr. With tlsConf set, accepted connections must speak TLS.
func Listen(addr string, tlsConf *tls.Config, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mux: listen on %s: %w", addr, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{ln: ln, tls: tlsConf, log: log, subs: map[byte]*subListener{}, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}, nil
}

// Addr returns the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Handle returns the listener of connections whose first byte is proto. Call it before Serve.
func (l *Listener) Handle(proto byte) net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &subListener{parent: l, ch: make(chan net.Conn)}
	l.subs[proto] = s
	return s
}

// Serve accepts connections until Close. It returns nil after Close.
func (l *Listener) Serve() error {
	l.wg.Add(1)
	defer l.wg.Done()
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("mux: accept: %w", err)
		}
		if !l.track(conn) {
			conn.Close()
			return nil
		}
		l.wg.Add(1)
		go l.route(conn)
	}
}

func (l *Listener) track(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[conn] = struct{}{}
	return true
}

// Forget stops tracking conn; Close will not close it. Sub-listener users need not call it.
func (l *Listener) forget(conn net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, conn)
}

// route completes the handshake, reads the protocol byte and hands the connection over.
func (l *Listener) route(raw net.Conn) {
	defer l.wg.Done()
	conn := raw
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	if l.tls != nil {
		tc := tls.Server(raw, l.tls)
		if err := tc.Handshake(); err != nil {
			l.log.Debug("peer TLS handshake failed", "remote", raw.RemoteAddr(), "error", err)
			l.drop(raw)
			return
		}
		conn = tc
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		l.drop(raw)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	l.mu.Lock()
	s := l.subs[b[0]]
	l.mu.Unlock()
	if s == nil {
		l.log.Debug("peer connection with unknown protocol", "remote", raw.RemoteAddr(), "protocol", b[0])
		l.drop(raw)
		return
	}
	wrapped := &trackedConn{Conn: conn, raw: raw, parent: l}
	select {
	case s.ch <- wrapped:
	case <-l.done:
		l.drop(raw)
	}
}

func (l *Listener) drop(raw net.Conn) {
	raw.Close()
	l.forget(raw)
}

// Close stops accepting, closes every connection it accepted and waits for its goroutines.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	conns := l.conns
	l.conns = map[net.Conn]struct{}{}
	l.mu.Unlock()
	err := l.ln.Close()
	for c := range conns {
		c.Close()
	}
	l.wg.Wait()
	return err
}

// trackedConn is an accepted connection; closing it stops the parent tracking it.
type trackedConn struct {
	net.Conn
	raw    net.Conn
	parent *Listener
	once   sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.parent.forget(c.raw) })
	return err
}

// subListener is the net.Listener of one protocol.
type subListener struct {
	parent *Listener
	ch     chan net.Conn
}

func (s *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.parent.done:
		return nil, ErrClosed
	}
}

// Close closes the whole parent listener: sub-listeners share its lifetime.
func (s *subListener) Close() error   { return s.parent.Close() }
func (s *subListener) Addr() net.Addr { return s.parent.Addr() }

// Dial connects to a Listener at addr and selects proto. With tlsConf set it speaks TLS;
// the server name defaults to addr's host.
func Dial(addr string, proto byte, tlsConf *tls.Config, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	_ = raw.SetDeadline(time.Now().Add(timeout))
	if tlsConf != nil {
		cfg := tlsConf.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(raw, cfg)
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return nil, fmt.Errorf("mux: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	if _, err := conn.Write([]byte{proto}); err != nil {
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return conn, nil
}
