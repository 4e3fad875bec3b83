package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer echoes lines until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// newMesh returns a mesh whose dialers are all named "a", with proxy "b" in front of an echo
// server.
func newMesh(t *testing.T) (*Mesh, string) {
	t.Helper()
	m := NewMesh(func(*net.TCPAddr, *net.TCPAddr) string { return "a" }, 1)
	t.Cleanup(func() { m.Close() })
	addr, err := m.Add("b", "127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	return m, addr
}

// roundTrip sends a line and waits up to wait for the echo.
func roundTrip(c net.Conn, wait time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("garbled echo " + line)
	}
	return nil
}

func TestMeshFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  func(m *Mesh)
		wantOK bool
	}{
		{name: "no fault", fault: func(*Mesh) {}, wantOK: true},
		{name: "listener isolated", fault: func(m *Mesh) { m.Isolate("b") }},
		{name: "dialer isolated", fault: func(m *Mesh) { m.Isolate("a") }},
		{name: "other master isolated", fault: func(m *Mesh) { m.Isolate("c") }, wantOK: true},
		{name: "delayed", fault: func(m *Mesh) { m.SetDelay(20*time.Millisecond, 10*time.Millisecond) }, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, addr := newMesh(t)
			tt.fault(m)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = roundTrip(c, 300*time.Millisecond)
			if (err == nil) != tt.wantOK {
				t.Errorf("round trip with fault %q = %v; want ok %v", tt.name, err, tt.wantOK)
			}
		})
	}
}

func TestMeshHealClosesBrokenConnections(t *testing.T) {
	m, addr := newMesh(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, 2*time.Second); err != nil {
		t.Fatalf("before the partition: %v", err)
	}
	m.Isolate("b")
	if err := roundTrip(c, 200*time.Millisecond); err == nil {
		t.Fatal("a round trip crossed an isolated link")
	}
	m.Heal()
	// The connection that lost bytes is closed, never resumed with a hole in its stream.
	if err := roundTrip(c, 2*time.Second); err == nil {
		t.Error("the connection that lost bytes carried traffic after the heal")
	}
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := roundTrip(c2, 2*time.Second); err != nil {
		t.Errorf("a new connection after the heal: %v", err)
	}
	if s := m.Stats(); s.Connections["a->b"] != 2 || s.Dropped == 0 {
		t.Errorf("Stats() = %+v; want 2 connections a->b and dropped bytes", s)
	}
}

func TestMeshDelayHoldsBytes(t *testing.T) {
	m, addr := newMesh(t)
	const delay = 50 * time.Millisecond
	m.SetDelay(delay, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Both directions are delayed.
	if got := time.Since(start); got < 2*delay {
		t.Errorf("round trip with a %s delay took %s; want at least %s", delay, got, 2*delay)
	}
}

func TestProcResolverFindsThisProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	defer server.Close()
	resolve := ProcResolver(func() map[int]string { return map[int]string{os.Getpid(): "self"} })
	if got := resolve(server.RemoteAddr().(*net.TCPAddr), server.LocalAddr().(*net.TCPAddr)); got != "self" {
		t.Errorf("ProcResolver(this process's connection) = %q; want %q", got, "self")
	}
	other := ProcResolver(func() map[int]string { return map[int]string{1: "init"} })
	if got := other(server.RemoteAddr().(*net.TCPAddr), server.LocalAddr().(*net.TCPAddr)); got != "" {
		t.Errorf("ProcResolver(another process) = %q; want \"\"", got)
	}
}
