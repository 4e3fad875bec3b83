package kubeletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Limits of the HTTP server that Serve runs. Streaming responses have no write timeout: their
// lifetime is bounded by Config.StreamIdleTimeout and by the client.
const (
	// readHeaderTimeout bounds how long a client may take to send a request's headers.
	readHeaderTimeout = 10 * time.Second
	// idleConnTimeout closes keep-alive connections that carry no request for that long.
	idleConnTimeout = 90 * time.Second
	// maxHeaderBytes caps a request's headers.
	maxHeaderBytes = 1 << 20
)

// Server is a node agent's kubelet API: container logs, exec, attach and port-forward, as the
// API server proxies them from kubectl. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	// slots holds one token per request in flight; its capacity is Config.MaxStreams.
	slots chan struct{}
}

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, slots: make(chan struct{}, cfg.MaxStreams)}, nil
}

// Handler returns the HTTP handler of the kubelet API. It serves requests until they end by
// themselves or their context ends; Serve runs it with graceful shutdown.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Serve serves the kubelet API over TLS on l until ctx ends, then stops gracefully: it closes
// l, ends every streaming session and log follow by cancelling its context and closing its
// connection, waits up to Config.ShutdownTimeout for plain requests, and returns nil once every
// request handler has returned. An error accepting connections also stops the server and is
// returned. Serve closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	base, cancel := context.WithCancel(ctx)
	defer cancel()
	// handlers counts the requests in flight, including the hijacked ones that http.Server
	// no longer tracks; once stopping is set no handler starts.
	var handlers sync.WaitGroup
	var mu sync.Mutex // protects stopping
	stopping := false
	h := s.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if stopping {
				mu.Unlock()
				s.writeError(w, r, &requestError{code: http.StatusServiceUnavailable, reason: metav1.StatusReasonServiceUnavailable, msg: "the node agent is shutting down"})
				return
			}
			handlers.Add(1)
			mu.Unlock()
			defer handlers.Done()
			h.ServeHTTP(w, r)
		}),
		TLSConfig:         s.cfg.TLS.Clone(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleConnTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(l, "", "") }() // exits once Shutdown or Close is called
	var err error
	select {
	case err = <-served:
		served = nil
	case <-ctx.Done():
	}
	mu.Lock()
	stopping = true
	mu.Unlock()
	cancel() // ends sessions and follows; their handlers close the hijacked connections
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		s.log.Warn("kubelet API: plain requests outlived the shutdown timeout; closing them", "timeout", s.cfg.ShutdownTimeout, "err", serr)
		srv.Close()
	}
	stop()
	if served != nil {
		<-served // http.ErrServerClosed
	}
	_ = l.Close() // in case ServeTLS failed before taking l over
	handlers.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubeletapi: serve: %w", err)
	}
	return nil
}

// serveHTTP authorizes and routes one request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeError(w, r, &requestError{code: http.StatusMethodNotAllowed, reason: metav1.StatusReasonMethodNotAllowed,
				msg: fmt.Sprintf("method %s is not allowed on /healthz", r.Method), allow: "GET, HEAD"})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
		return
	}
	if err := s.authorize(r); err != nil {
		s.writeError(w, r, &requestError{code: http.StatusForbidden, reason: metav1.StatusReasonForbidden, msg: "forbidden: " + err.Error()})
		return
	}
	t, err := parsePath(r.Method, r.URL.Path)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.writeError(w, r, &requestError{code: http.StatusTooManyRequests, reason: metav1.StatusReasonTooManyRequests,
			msg: fmt.Sprintf("the node agent is already serving %d streams", s.cfg.MaxStreams)})
		return
	}
	switch t.endpoint {
	case endpointLogs:
		err = s.serveLogs(w, r, t)
	case endpointExec, endpointAttach:
		err = s.serveCommand(w, r, t)
	case endpointPortForward:
		err = s.servePortForward(w, r, t)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// authorize applies Config.Authorize, or requires a verified client certificate.
func (s *Server) authorize(r *http.Request) error {
	if s.cfg.Authorize != nil {
		return s.cfg.Authorize(r)
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return errors.New("a verified client certificate is required")
	}
	return nil
}

// podUID resolves t's pod.
func (s *Server) podUID(t target) (string, error) {
	uid, err := s.cfg.Pods.PodUID(t.namespace, t.pod)
	if err == ErrPodNotFound { //nolint:errorlint // only the bare sentinel is reworded
		err = &notFoundError{err: err, msg: fmt.Sprintf("pod %q in namespace %q not found on this node", t.pod, t.namespace)}
	}
	return uid, err
}

// containerID resolves t's container, or its previous attempt.
func (s *Server) containerID(t target, previous bool) (string, error) {
	id, err := s.cfg.Pods.ContainerID(t.namespace, t.pod, t.container, previous)
	switch {
	case err == ErrPodNotFound: //nolint:errorlint // only the bare sentinel is reworded
		err = &notFoundError{err: err, msg: fmt.Sprintf("pod %q in namespace %q not found on this node", t.pod, t.namespace)}
	case err == ErrContainerNotFound && previous: //nolint:errorlint
		err = &notFoundError{err: err, msg: fmt.Sprintf("previous terminated container %q in pod %q not found", t.container, t.pod)}
	case err == ErrContainerNotFound: //nolint:errorlint
		err = &notFoundError{err: err, msg: fmt.Sprintf("container %q in pod %q not found", t.container, t.pod)}
	}
	return id, err
}

// statusFor maps an error to the Status the client receives: the one place where errors become
// HTTP status codes.
func statusFor(err error) *metav1.Status {
	st := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  err.Error(),
	}
	var re *requestError
	switch {
	case errors.As(err, &re):
		st.Code, st.Reason = re.code, re.reason
	case errors.Is(err, ErrPodNotFound), errors.Is(err, ErrContainerNotFound), errors.Is(err, runtime.ErrNotFound):
		st.Code, st.Reason = http.StatusNotFound, metav1.StatusReasonNotFound
	case errors.Is(err, runtime.ErrNotRunning):
		st.Code, st.Reason = http.StatusBadRequest, metav1.StatusReasonBadRequest
	case errors.Is(err, runtime.ErrUnavailable):
		st.Code, st.Reason = http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable
	default:
		st.Code, st.Reason = http.StatusInternalServerError, metav1.StatusReasonInternalError
	}
	return st
}

// writeError answers a request that has not started its response with err as a Status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := statusFor(err)
	level := slog.LevelDebug
	if st.Code >= http.StatusInternalServerError {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "kubelet API request failed", "method", r.Method, "path", r.URL.Path, "code", st.Code, "err", err)
	var re *requestError
	if errors.As(err, &re) && re.allow != "" {
		w.Header().Set("Allow", re.allow)
	}
	body, merr := json.Marshal(st)
	if merr != nil {
		body = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(body)
}
