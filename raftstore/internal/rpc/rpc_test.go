package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func serve(t *testing.T, handlers map[byte]Handler) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewServer(handlers).Serve(ctx, ln)
	}()
	return ln.Addr().String(), func() { cancel(); ln.Close(); <-done }
}

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCalls(t *testing.T) {
	addr, stop := serve(t, map[byte]Handler{
		1: func(_ context.Context, p []byte) ([]byte, error) { return append([]byte("echo:"), p...), nil },
		2: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("handler failed") },
	})
	defer stop()
	c := dial(t, addr)
	ctx := context.Background()
	tests := []struct {
		name    string
		method  byte
		payload string
		want    string
		wantErr string
	}{
		{name: "echo", method: 1, payload: "hi", want: "echo:hi"},
		{name: "empty payload", method: 1, want: "echo:"},
		{name: "handler error", method: 2, wantErr: "handler failed"},
		{name: "unknown method", method: 9, wantErr: "rpc: unknown method 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Call(ctx, tt.method, []byte(tt.payload))
			var re *RemoteError
			switch {
			case tt.wantErr != "":
				if !errors.As(err, &re) || re.Message != tt.wantErr {
					t.Errorf("Call() error = %v; want remote error %q", err, tt.wantErr)
				}
			case err != nil || string(out) != tt.want:
				t.Errorf("Call() = %q, %v; want %q", out, err, tt.want)
			}
		})
	}
}

func TestConcurrentCallsAreMultiplexed(t *testing.T) {
	release := make(chan struct{})
	addr, stop := serve(t, map[byte]Handler{
		1: func(_ context.Context, p []byte) ([]byte, error) {
			if string(p) == "slow" {
				<-release
			}
			return p, nil
		},
	})
	defer stop()
	c := dial(t, addr)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), 1, []byte("slow"))
		slow <- err
	}()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			want := fmt.Sprint(i)
			if out, err := c.Call(context.Background(), 1, []byte(want)); err != nil || string(out) != want {
				t.Errorf("Call(%s) = %q, %v", want, out, err)
			}
		}(i)
	}
	wg.Wait() // fast calls complete while the slow one is still in the handler
	close(release)
	if err := <-slow; err != nil {
		t.Error(err)
	}
}

func TestConnectionLossAndContext(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{})
	addr, stop := serve(t, map[byte]Handler{
		1: func(ctx context.Context, _ []byte) ([]byte, error) {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return nil, nil
		},
		// 2 stays in the handler until the test ends, whatever the server does.
		2: func(context.Context, []byte) ([]byte, error) {
			close(entered)
			<-block
			return nil, nil
		},
	})
	c := dial(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, 1, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call with an expiring context = %v; want DeadlineExceeded", err)
	}

	inflight := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), 2, nil)
		inflight <- err
	}()
	<-entered
	stopped := make(chan struct{})
	go func() {
		stop() // the server goes away while the call is in the handler
		close(stopped)
	}()
	if err := <-inflight; !errors.Is(err, ErrConnLost) {
		t.Errorf("in-flight Call when the server stops = %v; want ErrConnLost", err)
	}
	if _, err := c.Call(context.Background(), 1, nil); !errors.Is(err, ErrNotSent) {
		t.Errorf("Call on a broken client = %v; want ErrNotSent", err)
	}
	close(block)
	<-stopped
}
