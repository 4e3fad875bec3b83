// Package rpc is the small request/response protocol members speak on the peer port beside
// Raft: forwarded writes, read indexes, status and membership requests.
//
// Each frame is a 4-byte big-endian length, an 8-byte request ID, a method byte and a payload.
// A client multiplexes concurrent calls over one connection; a server handles each request on
// its own goroutine and answers with the request's ID and a status byte (0 for success, 1 for a
// handler error whose message is the payload).
package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// MaxFrame bounds a frame's payload.
const MaxFrame = 64 << 20

var (
	// ErrNotSent means the request was not written to the connection: the server never saw it.
	ErrNotSent = errors.New("rpc: request not sent")
	// ErrConnLost means the connection broke after the request was written: the server may or
	// may not have handled it.
	ErrConnLost = errors.New("rpc: connection lost before the reply")
)

// Handler serves one method. The returned error's message is sent to the caller.
type Handler func(ctx context.Context, payload []byte) ([]byte, error)

// RemoteError is a handler's error as seen by the client.
type RemoteError struct{ Message string }

func (e *RemoteError) Error() string { return e.Message }

const headerSize = 4 + 8 + 1

func writeFrame(w *bufio.Writer, id uint64, tag byte, payload []byte) error {
	var hdr [headerSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(hdr[4:12], id)
	hdr[12] = tag
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader) (id uint64, tag byte, payload []byte, err error) {
	var hdr [headerSize]byte
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[0:4])
	if n > MaxFrame {
		return 0, 0, nil, fmt.Errorf("rpc: frame of %d bytes exceeds %d", n, MaxFrame)
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, err
	}
	return binary.BigEndian.Uint64(hdr[4:12]), hdr[12], payload, nil
}

// Server dispatches requests to handlers by method byte.
type Server struct {
	handlers map[byte]Handler
}

// NewServer returns a server with the given handlers.
func NewServer(handlers map[byte]Handler) *Server { return &Server{handlers: handlers} }

// Serve accepts connections from ln until it fails, serving each until it closes or ctx ends.
// It waits for its connections' goroutines before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	var wmu sync.Mutex // protects w
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		id, method, payload, err := readFrame(r)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out []byte
			status := byte(0)
			h, ok := s.handlers[method]
			if !ok {
				status, out = 1, []byte(fmt.Sprintf("rpc: unknown method %d", method))
			} else if out, err = h(ctx, payload); err != nil {
				status, out = 1, []byte(err.Error())
			}
			wmu.Lock()
			defer wmu.Unlock()
			if writeFrame(w, id, status, out) != nil {
				conn.Close()
			}
		}()
	}
}

// Client calls one server over one connection. It is safe for concurrent use; once the
// connection fails every call returns an error and the client must be replaced.
type Client struct {
	conn net.Conn

	wmu sync.Mutex // protects w and nextID
	w   *bufio.Writer

	mu      sync.Mutex // protects pending and err
	nextID  uint64
	pending map[uint64]chan reply
	err     error
	done    chan struct{} // closed when the read loop exits
}

type reply struct {
	status  byte
	payload []byte
}

// NewClient starts a client over conn; it owns conn from then on.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: conn, w: bufio.NewWriter(conn), pending: map[uint64]chan reply{}, done: make(chan struct{})}
	go c.readLoop()
	return c
}

func (c *Client) readLoop() {
	defer close(c.done)
	r := bufio.NewReader(c.conn)
	for {
		id, status, payload, err := readFrame(r)
		if err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- reply{status: status, payload: payload}
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.conn.Close()
}

// Err returns the error that broke the connection, or nil while it is usable.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Call sends a request and waits for its reply or for ctx to end. An error wrapping ErrNotSent
// guarantees the server did not see the request; ErrConnLost and ctx errors do not.
func (c *Client) Call(ctx context.Context, method byte, payload []byte) ([]byte, error) {
	if len(payload) > MaxFrame {
		return nil, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrNotSent, len(payload), MaxFrame)
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrNotSent, c.err)
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	err := writeFrame(c.w, id, method, payload)
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
		// Bytes may have reached the server before the write failed.
		return nil, fmt.Errorf("%w: %v", ErrConnLost, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%w: %v", ErrConnLost, c.Err())
		}
		if r.status != 0 {
			return nil, &RemoteError{Message: string(r.payload)}
		}
		return r.payload, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Close closes the connection and waits for the read loop.
func (c *Client) Close() error {
	c.fail(net.ErrClosed)
	<-c.done
	return nil
}
