package kubeletapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	kremotecommand "k8s.io/kubelet/pkg/cri/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// serveCommand serves /exec and /attach: over WebSocket with the v5.channel.k8s.io protocol,
// which kubectl tries first, or over SPDY/3.1 with v4 to v1 of the channel protocol, kubectl's
// fallback. Errors are returned only before the connection is upgraded.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request, t target) error {
	opts, err := parseStreamOptions(r.URL.Query(), t.endpoint == endpointExec)
	if err != nil {
		return err
	}
	id, err := s.containerID(t, false)
	if err != nil {
		return err
	}
	switch {
	case wsstream.IsWebSocketRequest(r):
		if !offersProtocol(r, remotecommandconsts.StreamProtocolV5Name) {
			return badRequest(fmt.Sprintf("unsupported WebSocket subprotocols %q: use %s, or SPDY/3.1",
				r.Header.Values(wsstream.WebSocketProtocolHeader), remotecommandconsts.StreamProtocolV5Name))
		}
		s.serveCommandWebSocket(w, r, t, id, opts)
	case isSPDYUpgrade(r):
		s.serveCommandSPDY(w, r, t, id, opts)
	default:
		return badRequest(fmt.Sprintf("/%s needs a WebSocket (%s) or SPDY/3.1 upgrade", t.endpoint, remotecommandconsts.StreamProtocolV5Name))
	}
	return nil
}

// serveCommandWebSocket runs an exec or attach session over WebSocket v5: binary messages whose
// first byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close of the
// channel named by the second byte). The session ends with a metav1.Status on channel 3.
func (s *Server) serveCommandWebSocket(w http.ResponseWriter, r *http.Request, t target, id string, opts streamOptions) {
	sess := newSession(w, r)
	defer sess.end()
	channels := make([]wsstream.ChannelType, remotecommandconsts.StreamResize+1)
	channels[remotecommandconsts.StreamStdIn] = channelIf(opts.stdin, wsstream.ReadChannel)
	channels[remotecommandconsts.StreamStdOut] = channelIf(opts.stdout, wsstream.WriteChannel)
	channels[remotecommandconsts.StreamStdErr] = channelIf(opts.stderr, wsstream.WriteChannel)
	channels[remotecommandconsts.StreamErr] = wsstream.WriteChannel
	channels[remotecommandconsts.StreamResize] = channelIf(opts.tty, wsstream.ReadChannel)
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		remotecommandconsts.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	// The idle timeout is a read and write deadline that every data message pushes back.
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	_, ch, err := conn.Open(sess.w, r)
	if err != nil {
		s.log.Info("kubelet API: WebSocket upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	defer conn.Close()
	// Like kubelet and the API server, announce the session with an empty message on the first
	// channel the client reads.
	first := remotecommandconsts.StreamErr
	switch {
	case opts.stdout:
		first = remotecommandconsts.StreamStdOut
	case opts.stderr:
		first = remotecommandconsts.StreamStdErr
	}
	if _, err := ch[first].Write(nil); err != nil {
		s.log.Info("kubelet API: WebSocket session lost", "path", r.URL.Path, "err", err)
		return
	}

	streams := runtime.Streams{TTY: opts.tty}
	if opts.stdin {
		streams.Stdin = ch[remotecommandconsts.StreamStdIn]
	}
	if opts.stdout {
		streams.Stdout = ch[remotecommandconsts.StreamStdOut]
	}
	if opts.stderr {
		streams.Stderr = ch[remotecommandconsts.StreamStdErr]
	}
	runCtx, stopRun := context.WithCancel(sess.ctx)
	defer stopRun()
	var resized chan struct{}
	if opts.tty {
		sizes := make(chan runtime.TerminalSize)
		streams.Resize = sizes
		resized = make(chan struct{})
		// Exits once the resize channel ends: at the latest when conn is closed below.
		go func() {
			defer close(resized)
			decodeResizes(runCtx, ch[remotecommandconsts.StreamResize], sizes)
		}()
	}
	err = s.execute(runCtx, t, id, opts.command, streams)
	stopRun()
	s.log.Debug("kubelet API: WebSocket session ran", "path", r.URL.Path, "container", id, "err", err)
	// The write is bounded by the idle timeout, which wsstream applies to every write, and by
	// the session's end.
	body, merr := json.Marshal(commandStatus(t.endpoint, err))
	if merr == nil {
		_, merr = ch[remotecommandconsts.StreamErr].Write(body)
	}
	if merr != nil {
		s.log.Info("kubelet API: cannot send the session's status", "path", r.URL.Path, "err", merr)
	}
	_ = conn.Close()
	if resized != nil {
		<-resized
	}
}

// channelIf returns typ when used is true and wsstream.IgnoreChannel otherwise. Reads of an
// ignored channel are dropped instead of blocking the connection's reader.
func channelIf(used bool, typ wsstream.ChannelType) wsstream.ChannelType {
	if used {
		return typ
	}
	return wsstream.IgnoreChannel
}

// decodeResizes sends the terminal sizes read from r (JSON objects {"Width":…,"Height":…}) on
// out until r ends, then closes out. Sizes that arrive once ctx has ended are dropped.
func decodeResizes(ctx context.Context, r io.Reader, out chan<- runtime.TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			_, _ = io.Copy(io.Discard, r) // keep the connection's reader going
			return
		}
		select {
		case out <- runtime.TerminalSize{Width: size.Width, Height: size.Height}:
		case <-ctx.Done():
		}
	}
}

// serveCommandSPDY runs an exec or attach session over SPDY/3.1 with kubelet's streaming
// library, which negotiates the channel protocol version and pairs the streams.
func (s *Server) serveCommandSPDY(w http.ResponseWriter, r *http.Request, t target, id string, opts streamOptions) {
	sess := newSession(w, r)
	defer sess.end()
	a := &commandAdapter{s: s, t: t, id: id}
	kopts := &kremotecommand.Options{Stdin: opts.stdin, Stdout: opts.stdout, Stderr: opts.stderr, TTY: opts.tty}
	req := r.WithContext(sess.ctx) // the library hands this context to the adapter
	if t.endpoint == endpointExec {
		kremotecommand.ServeExec(sess.w, req, a, t.pod, "", t.container, opts.command, kopts,
			s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
	} else {
		kremotecommand.ServeAttach(sess.w, req, a, t.pod, "", t.container, kopts,
			s.cfg.StreamIdleTimeout, s.cfg.StreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
	}
	a.wait()
}

// commandAdapter runs kubelet's streaming library's exec and attach calls on the Runtime. The
// library calls it from the handler's goroutine.
type commandAdapter struct {
	s  *Server
	t  target
	id string
	// resized is closed once the resize forwarder has exited; nil when none was started.
	resized chan struct{}
}

var (
	_ kremotecommand.Executor = (*commandAdapter)(nil)
	_ kremotecommand.Attacher = (*commandAdapter)(nil)
)

// ExecInContainer runs cmd in the adapter's container.
func (a *commandAdapter) ExecInContainer(ctx context.Context, _ string, _ types.UID, _ string, cmd []string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return a.run(ctx, cmd, in, out, errOut, tty, resize)
}

// AttachContainer attaches to the adapter's container.
func (a *commandAdapter) AttachContainer(ctx context.Context, _ string, _ types.UID, _ string,
	in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return a.run(ctx, nil, in, out, errOut, tty, resize)
}

// run converts the library's streams and resize channel to the runtime's and runs the session.
// A non-zero exit code is returned as an exitError, unwrapped, as the library expects.
func (a *commandAdapter) run(ctx context.Context, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	streams := runtime.Streams{Stdin: in, TTY: tty}
	if out != nil {
		streams.Stdout = out
	}
	if errOut != nil {
		streams.Stderr = errOut
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		streams.Resize = sizes
		a.resized = make(chan struct{})
		// Exits once the library closes resize, which it does when the connection closes.
		go func() {
			defer close(a.resized)
			forwardResizes(runCtx, resize, sizes)
		}()
	}
	err := a.s.execute(runCtx, a.t, a.id, cmd, streams)
	a.s.log.Debug("kubelet API: SPDY session ran", "endpoint", a.t.endpoint, "container", a.id, "err", err)
	return err
}

// wait returns once the resize forwarder, if any, has exited.
func (a *commandAdapter) wait() {
	if a.resized != nil {
		<-a.resized
	}
}

// forwardResizes copies terminal sizes from in to out until in is closed, then closes out.
// It keeps draining in after ctx has ended so that the library's sender never blocks.
func forwardResizes(ctx context.Context, in <-chan remotecommand.TerminalSize, out chan<- runtime.TerminalSize) {
	defer close(out)
	for size := range in {
		select {
		case out <- runtime.TerminalSize{Width: size.Width, Height: size.Height}:
		case <-ctx.Done():
		}
	}
}

// execute runs the exec or attach of t in container id. A command's non-zero exit code is
// returned as an exitError.
func (s *Server) execute(ctx context.Context, t target, id string, cmd []string, streams runtime.Streams) error {
	if t.endpoint == endpointAttach {
		return s.cfg.Runtime.Attach(ctx, id, streams)
	}
	code, err := s.cfg.Runtime.Exec(ctx, id, cmd, streams)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError{cmd: cmd, code: code}
	}
	return nil
}

// commandStatus is the Status that ends a WebSocket session, as kubelet words it.
func commandStatus(e endpoint, err error) *metav1.Status {
	var exit exitError
	switch {
	case err == nil:
		return &metav1.Status{Status: metav1.StatusSuccess}
	case errors.As(err, &exit):
		return &metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommandconsts.NonZeroExitCodeReason,
			Message: "command terminated with non-zero exit code: " + exit.Error(),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
				{Type: remotecommandconsts.ExitCodeCauseType, Message: strconv.Itoa(exit.code)},
			}},
		}
	case e == endpointAttach:
		return statusFor(fmt.Errorf("error attaching to container: %w", err))
	default:
		return statusFor(fmt.Errorf("error executing command in container: %w", err))
	}
}

// exitError reports a command's non-zero exit code. It implements k8s.io/utils/exec.ExitError,
// which kubelet's streaming library turns into a NonZeroExitCode status.
type exitError struct {
	cmd  []string
	code int
}

var _ utilexec.ExitError = exitError{}

func (e exitError) Error() string {
	return fmt.Sprintf("command %q exited with code %d", strings.Join(e.cmd, " "), e.code)
}

// String returns the error's message.
func (e exitError) String() string { return e.Error() }

// Exited reports that the command exited (it was not killed by the server).
func (e exitError) Exited() bool { return true }

// ExitStatus returns the exit code.
func (e exitError) ExitStatus() int { return e.code }

// offersProtocol tells whether a WebSocket request offers the subprotocol.
func offersProtocol(r *http.Request, protocol string) bool {
	for _, v := range r.Header.Values(wsstream.WebSocketProtocolHeader) {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == protocol {
				return true
			}
		}
	}
	return false
}

// isSPDYUpgrade tells whether r asks for an upgrade to SPDY/3.1.
func isSPDYUpgrade(r *http.Request) bool {
	return httpstream.IsUpgradeRequest(r) && strings.Contains(strings.ToLower(r.Header.Get(httpstream.HeaderUpgrade)), strings.ToLower(spdy.HeaderSpdy31))
}
