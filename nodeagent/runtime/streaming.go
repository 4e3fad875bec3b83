package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/errdefs"

	"github.com/capstan-io/capstan/nodeagent/runtime/internal/crilog"
	"github.com/capstan-io/capstan/nodeagent/runtime/internal/netns"
)

// runningTask returns a container and its task, which must be running.
func (r *Containerd) runningTask(ctx context.Context, id string) (containerd.Container, containerd.Task, error) {
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, nil, translate(err, "container "+id)
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotRunning, id)
	}
	if err != nil {
		return nil, nil, translate(err, "task of "+id)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return nil, nil, translate(err, "task of "+id)
	}
	if st.Status != containerd.Running {
		return nil, nil, fmt.Errorf("%w: %s is %s", ErrNotRunning, id, st.Status)
	}
	return c, task, nil
}

// Exec implements Runtime. The process runs with the container's process settings (user,
// environment, working directory, capabilities); its streams are FIFOs copied by the agent.
func (r *Containerd) Exec(ctx context.Context, id string, cmd []string, streams Streams) (int, error) {
	if len(cmd) == 0 {
		return -1, errors.New("runtime: exec needs a command")
	}
	nctx := r.nsctx(ctx)
	c, task, err := r.runningTask(nctx, id)
	if err != nil {
		return -1, err
	}
	spec, err := c.Spec(nctx)
	if err != nil {
		return -1, translate(err, "spec of "+id)
	}
	ps := *spec.Process
	ps.Args = cmd
	ps.Terminal = streams.TTY
	ps.Env = append([]string(nil), ps.Env...)
	if streams.TTY && !hasEnv(ps.Env, "TERM") {
		ps.Env = append(ps.Env, "TERM=xterm")
	}

	// bg outlives ctx: the clean-up below must run after a cancellation too.
	bg := r.nsctx(context.Background())
	started, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	var proc containerd.Process
	var stdin io.Reader
	if streams.Stdin != nil {
		// The shim holds stdin open for late attachers; tell it to close at our EOF.
		stdin = &eofHook{r: streams.Stdin, fn: func() {
			select {
			case <-started:
				proc.CloseIO(bg, containerd.WithStdinCloser)
			case <-finished:
			}
		}}
	}
	// containerd 1.6's shim fails on an exec with stdout but no stderr: discard what is not wanted.
	stdout, stderr := streams.Stdout, streams.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(r.fifoDir())}
	if streams.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err = task.Exec(nctx, newExecID(), &ps, cio.NewCreator(opts...))
	if err != nil {
		return -1, translate(err, "exec in "+id)
	}
	defer func() {
		proc.IO().Close()
		proc.Delete(bg)
	}()
	exited, err := proc.Wait(bg)
	if err != nil {
		return -1, translate(err, "exec in "+id)
	}
	if err := proc.Start(nctx); err != nil {
		proc.Kill(bg, syscall.SIGKILL)
		return -1, translate(err, "exec in "+id)
	}
	close(started)

	var wg sync.WaitGroup
	rctx, stopResize := context.WithCancel(bg)
	if streams.TTY && streams.Resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardResize(rctx, proc, streams.Resize)
		}()
	}
	defer func() {
		stopResize()
		wg.Wait()
	}()

	select {
	case st := <-exited:
		proc.IO().Wait()
		code, _, err := st.Result()
		if err != nil {
			return -1, translate(err, "exec in "+id)
		}
		return int(code), nil
	case <-ctx.Done():
		proc.Kill(bg, syscall.SIGKILL)
		<-exited
		proc.IO().Cancel()
		return -1, ctx.Err()
	}
}

// resizer is a process whose terminal can be resized.
type resizer interface {
	Resize(ctx context.Context, w, h uint32) error
}

// forwardResize applies terminal sizes from ch until ctx ends or ch is closed.
func forwardResize(ctx context.Context, p resizer, ch <-chan TerminalSize) {
	for {
		select {
		case <-ctx.Done():
			return
		case sz, ok := <-ch:
			if !ok {
				return
			}
			p.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
		}
	}
}

// Attach implements Runtime. Output is followed from the container's log (so every attacher, and
// the log, see the same bytes), input goes to the container's stdin when it has one. With
// StdinOnce, stdin is closed for good when this session's input ends. Attach returns when the
// container's output ends or ctx ends; a Read of streams.Stdin still blocked then is left to the
// caller, who must close that stream to end it.
func (r *Containerd) Attach(ctx context.Context, id string, streams Streams) error {
	nctx := r.nsctx(ctx)
	c, task, err := r.runningTask(nctx, id)
	if err != nil {
		return err
	}
	labels, err := c.Labels(nctx)
	if err != nil {
		return translate(err, "container "+id)
	}
	tty := labels[labelTTY] == "true"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()

	if tty && streams.Resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardResize(r.nsctx(ctx), task, streams.Resize)
		}()
	}
	if sc := r.getStdio(id); sc != nil && streams.Stdin != nil {
		if w := sc.stdinWriter(); w != nil {
			// Not in wg: it may block in streams.Stdin.Read until the caller closes it.
			go func() {
				io.Copy(w, streams.Stdin)
				if sc.once {
					r.closeStdinOnce(id, sc, task)
				}
			}()
		}
	}
	stderr := streams.Stderr
	if tty {
		stderr = streams.Stdout
	}
	err = crilog.Read(ctx, labels[labelLogPath], crilog.Options{Tail: 0, Follow: true}, streams.Stdout, stderr)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// closeStdinOnce closes a StdinOnce container's stdin after its first attach session.
func (r *Containerd) closeStdinOnce(id string, sc *stdioConn, task containerd.Task) {
	if !sc.closeStdin() {
		return
	}
	ctx := r.nsctx(context.Background())
	task.CloseIO(ctx, containerd.WithStdinCloser)
	if c, err := r.client.LoadContainer(ctx, id); err == nil {
		c.SetLabels(ctx, map[string]string{labelStdinClosed: "true"})
	}
}

// PortForward implements Runtime.
func (r *Containerd) PortForward(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error {
	defer conn.Close()
	if port < 1 || port > 65535 {
		return fmt.Errorf("runtime: port %d is out of range", port)
	}
	rec, err := r.loadSandbox(podUID)
	if err != nil {
		return err
	}
	var pc net.Conn
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	err = netns.Do(rec.NetNSPath, func() error {
		var d net.Dialer
		var err error
		pc, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return fmt.Errorf("runtime: port-forward to %s in pod %s: %w", addr, podUID, err)
	}
	defer pc.Close()
	return splice(ctx, conn, pc)
}

// splice copies between the client and the pod until the pod's side ends or ctx ends. The end of
// the client's input is passed on as a half-close.
func splice(ctx context.Context, client io.ReadWriteCloser, pod net.Conn) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(pod, client)
		if tc, ok := pod.(interface{ CloseWrite() error }); ok {
			tc.CloseWrite()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(client, pod)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Closing both ends unblocks whichever copy still runs.
	client.Close()
	pod.Close()
	wg.Wait()
	if err != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)) {
		err = nil
	}
	return err
}

// Logs implements Runtime.
func (r *Containerd) Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error {
	c, err := r.client.ContainerService().Get(r.nsctx(ctx), id)
	if err != nil {
		return translate(err, "container "+id)
	}
	tail := int64(-1)
	if opts.TailLines != nil {
		tail = *opts.TailLines
	}
	err = crilog.Read(ctx, c.Labels[labelLogPath], crilog.Options{
		Tail: tail, Since: opts.Since, Timestamps: opts.Timestamps, LimitBytes: opts.LimitBytes, Follow: opts.Follow,
	}, w, w)
	return err
}

// eofHook calls fn once when r reports EOF.
type eofHook struct {
	r    io.Reader
	once sync.Once
	fn   func()
}

func (e *eofHook) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.once.Do(e.fn)
	}
	return n, err
}

// newExecID returns a unique exec process ID.
func newExecID() string {
	var b [8]byte
	rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}
