package kubeletapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Runtime is the part of the container runtime the kubelet API uses. runtime.Runtime
// implements it; the contracts are runtime.Runtime's.
//
// The server calls every method from request goroutines, concurrently, and cancels ctx when the
// client goes away, the session's idle timeout expires or the server stops: every method must
// return soon after ctx ends, or Serve cannot return. Streams.Resize, set for terminal sessions,
// is closed by the server once the client's resize stream ends, which may happen before the
// session does: receivers must check for a closed channel. The server stops sending sizes once
// Exec or Attach has returned. Exec and Attach must not wait for Streams.Stdin to end before
// returning: the server closes it only after they return.
type Runtime interface {
	// Exec runs cmd in the running container id and returns its exit code.
	Exec(ctx context.Context, id string, cmd []string, streams runtime.Streams) (exitCode int, err error)
	// Attach connects streams to the running container id's main process.
	Attach(ctx context.Context, id string, streams runtime.Streams) error
	// PortForward connects conn to 127.0.0.1:port in the pod's network namespace, copies both
	// ways until either side closes and closes conn before returning.
	PortForward(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error
	// Logs writes the container's log to w as opts selects.
	Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error
}

var _ Runtime = runtime.Runtime(nil)

// Pods resolves the names in kubelet API paths to what the runtime knows. The node agent
// implements it from its pod workers' state. Its methods are called from request goroutines,
// concurrently, and must not block on the network.
//
// An error matching ErrPodNotFound or ErrContainerNotFound is answered with 404. When the
// error is exactly the sentinel, the server words the message as kubelet does (for example
// `previous terminated container "c" in pod "p" not found`); any other error's message is shown
// to the client as it is.
type Pods interface {
	// PodUID returns the UID of the pod namespace/name running on this node, or an error
	// matching ErrPodNotFound.
	PodUID(namespace, name string) (string, error)
	// ContainerID returns the runtime ID of the current attempt of the pod's container, or with
	// previous the attempt before it. It returns an error matching ErrPodNotFound for an unknown
	// pod and ErrContainerNotFound for an unknown container or a missing attempt.
	ContainerID(namespace, pod, container string, previous bool) (string, error)
}

// Config configures a Server.
type Config struct {
	// Runtime runs the commands, attaches, port forwards and log reads. Required.
	Runtime Runtime
	// Pods resolves pod and container names. Required.
	Pods Pods
	// TLS is the server's TLS configuration: its certificate and, unless Authorize is set, the
	// client CAs and a ClientAuth that verifies client certificates. Required.
	TLS *tls.Config
	// Authorize decides whether a request may use the API; a non-nil error is answered with
	// 403 and its message. When nil, every request must carry a client certificate that TLS
	// verified. /healthz is never authorized.
	Authorize func(*http.Request) error
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// StreamIdleTimeout ends an exec, attach or port-forward session when no data crosses it
	// for that long (kubelet's streamingConnectionIdleTimeout). WebSocket pings do not count
	// as data.
	StreamIdleTimeout time.Duration
	// StreamCreationTimeout bounds how long a SPDY client may take to open the streams of an
	// exec or attach session, or the second stream of a port-forward pair.
	StreamCreationTimeout time.Duration
	// MaxStreams caps the requests served at once (logs, exec, attach, port-forward sessions);
	// further ones are answered with 429.
	MaxStreams int
	// ShutdownTimeout bounds how long Serve waits for plain requests to finish once its
	// context ends before it closes their connections.
	ShutdownTimeout time.Duration
}

// DefaultConfig returns a Config with kubelet's defaults: sessions idle for 4 hours end, SPDY
// streams must be opened within 30 seconds. Runtime, Pods and TLS must still be set.
func DefaultConfig() Config {
	return Config{
		StreamIdleTimeout:     4 * time.Hour,
		StreamCreationTimeout: 30 * time.Second,
		MaxStreams:            512,
		ShutdownTimeout:       10 * time.Second,
	}
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Runtime == nil {
		errs = append(errs, errors.New("kubeletapi: Runtime is required"))
	}
	if c.Pods == nil {
		errs = append(errs, errors.New("kubeletapi: Pods is required"))
	}
	switch {
	case c.TLS == nil:
		errs = append(errs, errors.New("kubeletapi: TLS is required"))
	case len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil:
		errs = append(errs, errors.New("kubeletapi: TLS has no server certificate"))
	case c.Authorize == nil && (c.TLS.ClientCAs == nil || (c.TLS.ClientAuth != tls.VerifyClientCertIfGiven && c.TLS.ClientAuth != tls.RequireAndVerifyClientCert)):
		errs = append(errs, fmt.Errorf("kubeletapi: without Authorize, TLS must verify client certificates: ClientAuth is %v and ClientCAs is set: %t",
			c.TLS.ClientAuth, c.TLS.ClientCAs != nil))
	}
	if c.StreamIdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("kubeletapi: StreamIdleTimeout %s must be positive", c.StreamIdleTimeout))
	}
	if c.StreamCreationTimeout <= 0 {
		errs = append(errs, fmt.Errorf("kubeletapi: StreamCreationTimeout %s must be positive", c.StreamCreationTimeout))
	}
	if c.MaxStreams <= 0 {
		errs = append(errs, fmt.Errorf("kubeletapi: MaxStreams %d must be positive", c.MaxStreams))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("kubeletapi: ShutdownTimeout %s must be positive", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}
