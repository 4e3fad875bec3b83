package apiserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/raftstore"
)

// FenceFunc returns the compare that fences a writer's requests, or false when the writer may
// no longer write (its leadership ended).
type FenceFunc func() (raftstore.Compare, bool)

// loopbackKey marks requests made through Loopback; only code in this process can set it.
type loopbackKey struct{}

type loopbackInfo struct {
	user  *User
	fence FenceFunc
}

// Loopback returns a client configuration whose requests this server serves in-process, as
// user, with no authentication, TLS or network: the same handlers and registry as every API
// request. When fence is set, every write carries its compare and is refused once fence
// reports false, so the writes of a deposed leader's controllers fail rather than land.
func (s *Server) Loopback(user *User, fence FenceFunc) *rest.Config {
	return &rest.Config{
		Host:      "http://capstan-loopback",
		Transport: &loopbackTransport{s: s, info: &loopbackInfo{user: withAuthenticatedGroup(user), fence: fence}},
		QPS:       -1,
		UserAgent: "capstan-loopback/" + user.Name,
	}
}

// loopbackTransport runs requests through the server's handler and streams the responses.
type loopbackTransport struct {
	s    *Server
	info *loopbackInfo
}

func (t *loopbackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Context(), loopbackKey{}, t.info)
	ctx = withUser(ctx, t.info.user)
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer w.finish()
		t.s.serveHTTP(w, req.WithContext(ctx))
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.Close()
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: http.StatusText(w.code), StatusCode: w.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: pr, ContentLength: -1, Request: req,
	}, nil
}

// pipeWriter is an http.ResponseWriter whose body streams into a pipe.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	code   int
	ready  chan struct{} // closed when the status is known
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush is a no-op: writes reach the reader at once.
func (w *pipeWriter) Flush() {}

func (w *pipeWriter) finish() {
	w.WriteHeader(http.StatusOK)
	w.pw.Close()
}

// loopbackFrom returns the loopback details of a request made through Loopback.
func loopbackFrom(ctx context.Context) (*loopbackInfo, bool) {
	info, ok := ctx.Value(loopbackKey{}).(*loopbackInfo)
	return info, ok
}

// errFenceLost refuses a loopback write whose writer's leadership has ended.
var errFenceLost = errors.New("the leadership of this writer has ended")

// fence returns the compares to add to this request's writes.
func (q *request) fence() ([]raftstore.Compare, error) {
	info, ok := loopbackFrom(q.r.Context())
	if !ok || info.fence == nil {
		return nil, nil
	}
	c, ok := info.fence()
	if !ok {
		return nil, statusError(http.StatusConflict, "Conflict", errFenceLost.Error())
	}
	return []raftstore.Compare{c}, nil
}
