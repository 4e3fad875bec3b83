package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/errdefs"

	"github.com/capstan-io/capstan/nodeagent/runtime/internal/crilog"
	"github.com/capstan-io/capstan/nodeagent/runtime/internal/logger"
)

// labelStdinClosed records that a StdinOnce container's stdin was closed.
const labelStdinClosed = labelPrefix + "stdin-closed"

// drainTimeout bounds how long dropping a container's streams waits for its output to be copied.
const drainTimeout = 5 * time.Second

// stdioConn is the agent's side of a container's main process's standard streams. Its shape
// depends on the container (pitfall 7 of RUNTIME.md):
//
//   - no stdin: the shim runs the logger (cio.BinaryIO, with a terminal when TTY), and the agent
//     holds nothing: logging survives agent restarts.
//   - stdin and TTY: the same logger for the terminal's output, plus a stdin FIFO the agent writes
//     into; the shim keeps the FIFO open, so an agent restart does not close stdin.
//   - stdin without TTY: the shim supports no logger next to a stdin FIFO, so all three streams are
//     FIFOs copied by the agent, which writes the log itself. While the agent is down such a
//     container blocks once the pipe buffers fill; New reconnects it.
type stdioConn struct {
	id        string
	stdinPath string // stdin FIFO with TTY
	once      bool   // StdinOnce

	mu     sync.Mutex     // protects stdin and closed
	stdin  io.WriteCloser // where attach sessions write; nil without stdin or once closed
	closed bool

	io   cio.IO         // FIFO copying without TTY
	logw *crilog.Writer // the log writer without TTY
}

// newStdio returns the connection and the IO creator for a new task of container id.
func (r *Containerd) newStdio(id string, labels map[string]string) (*stdioConn, cio.Creator, error) {
	sc := &stdioConn{id: id, once: labels[labelStdinOnce] == "true"}
	logPath := labels[labelLogPath]
	args := logger.Args(logPath, r.cfg.LogMaxBytes)
	tty, stdin := labels[labelTTY] == "true", labels[labelStdin] == "true"
	switch {
	case !stdin && tty:
		return sc, cio.TerminalBinaryIO(r.loggerPath, args), nil
	case !stdin:
		return sc, cio.BinaryIO(r.loggerPath, args), nil
	case tty:
		sc.stdinPath = r.stdinFIFO(id)
		if err := os.Remove(sc.stdinPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		if err := syscall.Mkfifo(sc.stdinPath, 0o600); err != nil {
			return nil, nil, fmt.Errorf("runtime: stdin FIFO of %s: %w", id, err)
		}
		uri, err := cio.LogURIGenerator("binary", r.loggerPath, args)
		if err != nil {
			return nil, nil, err
		}
		cfg := cio.Config{Terminal: true, Stdin: sc.stdinPath, Stdout: uri.String(), Stderr: uri.String()}
		return sc, func(string) (cio.IO, error) { return &configIO{cfg: cfg}, nil }, nil
	default:
		w, err := crilog.OpenWriter(logPath, r.cfg.LogMaxBytes)
		if err != nil {
			return nil, nil, err
		}
		pr, pw := io.Pipe()
		sc.logw, sc.stdin = w, pw
		create := cio.NewCreator(cio.WithStreams(pr, streamWriter{w, crilog.Stdout}, streamWriter{w, crilog.Stderr}), cio.WithFIFODir(r.fifoDir()))
		return sc, func(id string) (cio.IO, error) {
			i, err := create(id)
			sc.io = i
			return i, err
		}, nil
	}
}

// stdinFIFO returns the path of the stdin FIFO of a TTY container.
func (r *Containerd) stdinFIFO(id string) string {
	return filepath.Join(r.fifoDir(), id+"-stdin")
}

// afterCreate opens the stdin FIFO once the shim has it open. O_RDWR never blocks and never
// reads: the shim is the only reader.
func (s *stdioConn) afterCreate() error {
	if s.stdinPath == "" {
		return nil
	}
	f, err := os.OpenFile(s.stdinPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("runtime: open the stdin FIFO of %s: %w", s.id, err)
	}
	s.stdin = f
	return nil
}

// stdinWriter returns where attach sessions write, or nil.
func (s *stdioConn) stdinWriter() io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stdin == nil {
		return nil
	}
	return s.stdin
}

// closeStdin closes the agent's end of stdin; it reports whether it was open.
func (s *stdioConn) closeStdin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.stdin == nil {
		return false
	}
	s.closed = true
	s.stdin.Close()
	return true
}

// close releases everything, after waiting a little for the output of an exited container to be
// copied.
func (s *stdioConn) close() {
	s.closeStdin()
	if s.io != nil {
		done := make(chan struct{})
		go func() {
			s.io.Wait()
			close(done)
		}()
		t := time.NewTimer(drainTimeout)
		select {
		case <-done:
		case <-t.C:
			s.io.Cancel()
			<-done
		}
		t.Stop()
		s.io.Close()
	}
	if s.logw != nil {
		s.logw.Close()
	}
	if s.stdinPath != "" {
		os.Remove(s.stdinPath)
	}
}

// detach lets go of the streams of a container that keeps running, leaving the FIFOs in place
// for the next agent (see restoreIO).
func (s *stdioConn) detach() {
	s.mu.Lock()
	if s.stdin != nil {
		s.stdin.Close()
	}
	s.mu.Unlock()
	if s.io != nil {
		s.io.Cancel()
	}
	if s.logw != nil {
		s.logw.Close()
	}
}

// setStdio registers the connection of a started container when it holds anything.
func (r *Containerd) setStdio(id string, sc *stdioConn) {
	if sc.stdin == nil && sc.io == nil {
		return
	}
	r.iosMu.Lock()
	defer r.iosMu.Unlock()
	r.ios[id] = sc
}

// getStdio returns the registered connection of a container, or nil.
func (r *Containerd) getStdio(id string) *stdioConn {
	r.iosMu.Lock()
	defer r.iosMu.Unlock()
	return r.ios[id]
}

// dropStdio unregisters and closes a container's connection.
func (r *Containerd) dropStdio(id string) {
	r.iosMu.Lock()
	sc := r.ios[id]
	delete(r.ios, id)
	r.iosMu.Unlock()
	if sc != nil {
		sc.close()
	}
}

// restoreIO reconnects the streams of running containers with stdin after an agent restart.
func (r *Containerd) restoreIO(ctx context.Context) error {
	ctx = r.nsctx(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q==%q", labelStdin, "true"))
	if err != nil {
		return translate(err, "list containers")
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			return translate(ignoreNotFound(err), "container "+c.ID())
		}
		task, err := c.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return translate(err, "task of "+c.ID())
		}
		if st, err := task.Status(ctx); err != nil || st.Status != containerd.Running {
			continue
		}
		sc := &stdioConn{id: c.ID(), once: labels[labelStdinOnce] == "true", closed: labels[labelStdinClosed] == "true"}
		if labels[labelTTY] == "true" {
			sc.stdinPath = r.stdinFIFO(c.ID())
			if !sc.closed {
				if err := sc.afterCreate(); err != nil {
					return err
				}
			}
		} else {
			w, err := crilog.OpenWriter(labels[labelLogPath], r.cfg.LogMaxBytes)
			if err != nil {
				return err
			}
			pr, pw := io.Pipe()
			sc.logw, sc.stdin = w, pw
			if sc.closed {
				pw.Close()
			}
			t, err := c.Task(ctx, cio.NewAttach(cio.WithStreams(pr, streamWriter{w, crilog.Stdout}, streamWriter{w, crilog.Stderr})))
			if err != nil {
				w.Close()
				return translate(err, "reattach to "+c.ID())
			}
			sc.io = t.IO()
		}
		r.setStdio(c.ID(), sc)
	}
	return nil
}

// configIO is a cio.IO that only carries a configuration: the shim does the copying.
type configIO struct{ cfg cio.Config }

func (c *configIO) Config() cio.Config { return c.cfg }
func (c *configIO) Cancel()            {}
func (c *configIO) Wait()              {}
func (c *configIO) Close() error       { return nil }

// streamWriter writes one stream into a log.
type streamWriter struct {
	w      *crilog.Writer
	stream crilog.Stream
}

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.w.Write(s.stream, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
