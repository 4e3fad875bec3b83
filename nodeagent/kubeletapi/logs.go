package kubeletapi

import (
	"net/http"
	"time"
)

// serveLogs serves /containerLogs: the container's log as text/plain, streamed and flushed
// write by write with follow=true until the container's output ends or the client goes away.
// Errors are returned only while nothing has been written; a failure after that ends the
// response early and is logged.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request, t target) error {
	opts, previous, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		return err
	}
	id, err := s.containerID(t, previous)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	lw := &logWriter{w: w, rc: http.NewResponseController(w), flush: opts.Follow}
	err = s.cfg.Runtime.Logs(r.Context(), id, opts, lw)
	switch {
	case err == nil:
		return nil
	case lw.written || r.Context().Err() != nil:
		s.log.Debug("kubelet API: log stream ended early", "path", r.URL.Path, "err", err)
		return nil
	default:
		return err
	}
}

// logWriter writes a log response, flushing after every write when following. The runtime
// calls it from one goroutine.
type logWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	flush bool
	// written is set once the response has started.
	written bool
}

// Write writes p to the response.
func (lw *logWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	lw.written = true
	n, err := lw.w.Write(p)
	if err == nil && lw.flush {
		err = lw.rc.Flush()
	}
	return n, err
}
