package kubeletapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// portForwardDialer returns client-go's dialer for proto: "spdy" (kubectl's fallback) or
// "websocket", SPDY tunnelled in WebSocket (kubectl's first choice).
func portForwardDialer(t *testing.T, ts *testServer, proto, path string) httpstream.Dialer {
	t.Helper()
	cfg := ts.restConfig()
	u, err := url.Parse(cfg.Host + path)
	if err != nil {
		t.Fatal(err)
	}
	switch proto {
	case "spdy":
		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	case "websocket":
		d, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("unknown protocol %q", proto)
	return nil
}

// forward runs client-go's port forwarder to the pod's remote port on a free local port and
// returns that port and a function that waits for ForwardPorts to return and gives its result.
// The forwarder stops when the test ends; unless the test waited for it, it must return nil.
func forward(t *testing.T, dialer httpstream.Dialer, remote int) (uint16, func() error) {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", remote)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	waited := false
	var result error
	wait := func() error {
		if !waited {
			waited = true
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				result = errors.New("ForwardPorts did not return")
			}
		}
		return result
	}
	t.Cleanup(func() {
		close(stop)
		if waited {
			return
		}
		if err := wait(); err != nil {
			t.Errorf("ForwardPorts = %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		waited, result = true, err
		t.Fatalf("ForwardPorts = %v before it was ready", err)
	case <-time.After(30 * time.Second):
		t.Fatal("port forward not ready")
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("GetPorts = %v, %v", ports, err)
	}
	return ports[0].Local, wait
}

// echoThrough sends msg over a new connection to the local port, half-closes it and returns
// what came back.
func echoThrough(port uint16, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	got, err := io.ReadAll(c)
	return string(got), err
}

func TestPortForward(t *testing.T) {
	const connections = 8
	for _, proto := range []string{"spdy", "websocket"} {
		t.Run(proto, func(t *testing.T) {
			ts := startServer(t, nil)
			local, _ := forward(t, portForwardDialer(t, ts, proto, "/portForward/default/web"), 8080)
			var wg sync.WaitGroup
			errs := make(chan error, connections)
			for i := range connections {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msg := strings.Repeat(fmt.Sprintf("connection %d says hello\n", i), 2000) // about 50 KB
					got, err := echoThrough(local, msg)
					switch {
					case err != nil:
						errs <- fmt.Errorf("connection %d: %w", i, err)
					case got != msg:
						errs <- fmt.Errorf("connection %d: echoed %d bytes; want the %d sent", i, len(got), len(msg))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			ts.rt.mu.Lock()
			defer ts.rt.mu.Unlock()
			if len(ts.rt.ports) != connections {
				t.Errorf("the runtime forwarded %d connections; want %d", len(ts.rt.ports), connections)
			}
			for i := range ts.rt.ports {
				if ts.rt.ports[i] != 8080 || ts.rt.podUIDs[i] != testPodUID {
					t.Errorf("forward %d went to %s port %d; want %s port 8080", i, ts.rt.podUIDs[i], ts.rt.ports[i], testPodUID)
				}
			}
		})
	}
}

// TestPortForwardRefused checks that a connection the pod refuses reaches the client as an
// error: client-go then drops the local connection and, like kubectl 1.32, ends the forward.
func TestPortForwardRefused(t *testing.T) {
	for _, proto := range []string{"spdy", "websocket"} {
		t.Run(proto, func(t *testing.T) {
			ts := startServer(t, nil)
			local, wait := forward(t, portForwardDialer(t, ts, proto, "/portForward/default/web"), 1)
			if got, _ := echoThrough(local, "hello"); got != "" {
				t.Errorf("a refused connection echoed %q; want nothing", got)
			}
			if err := wait(); err == nil || !strings.Contains(err.Error(), "lost connection to pod") {
				t.Errorf("ForwardPorts = %v; want lost connection to pod", err)
			}
		})
	}
}
