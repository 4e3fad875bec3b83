package mux

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestRoutesByProtocolByte(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := l.Handle('a'), l.Handle('b')
	go l.Serve()
	defer l.Close()

	tests := []struct {
		name  string
		proto byte
		ln    net.Listener
	}{
		{name: "first protocol", proto: 'a', ln: a},
		{name: "second protocol", proto: 'b', ln: b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(l.Addr().String(), tt.proto, nil, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			s, err := tt.ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			buf := make([]byte, 5)
			if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
				t.Errorf("read %q, %v; want hello", buf, err)
			}
		})
	}
}

func TestUnknownProtocolIsDropped(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Handle('a')
	go l.Serve()
	defer l.Close()
	c, err := Dial(l.Addr().String(), 'z', nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection with an unknown protocol byte stayed open")
	}
}

func TestCloseEndsAcceptAndConnections(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := l.Handle('a')
	served := make(chan error, 1)
	go func() { served <- l.Serve() }()
	c, err := Dial(l.Addr().String(), 'a', nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve after Close = %v; want nil", err)
	}
	if _, err := a.Accept(); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close = %v; want ErrClosed", err)
	}
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Error("accepted connection still open after Close")
	}
}
