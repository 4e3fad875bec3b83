package agent

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for masterSet.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestMasterSetFailover(t *testing.T) {
	urls := []string{"https://m1:6443", "https://m2:6443", "https://m3:6443"}
	tests := []struct {
		name string
		// steps are "fail <host>" or "wait <duration>"; pick is checked after all of them.
		steps []string
		want  string
	}{
		{name: "starts with the first", want: "m1:6443"},
		{name: "current fails", steps: []string{"fail m1:6443"}, want: "m2:6443"},
		{name: "another fails", steps: []string{"fail m3:6443"}, want: "m1:6443"},
		{name: "skips a recently failed master", steps: []string{"fail m2:6443", "fail m1:6443"}, want: "m3:6443"},
		{name: "wraps around", steps: []string{"fail m1:6443", "fail m2:6443"}, want: "m3:6443"},
		{name: "all failed: the oldest failure", steps: []string{"fail m1:6443", "wait 1s", "fail m2:6443", "wait 1s", "fail m3:6443"}, want: "m1:6443"},
		{name: "a failure is forgotten after the cooldown", steps: []string{"fail m2:6443", "wait 6s", "fail m1:6443"}, want: "m2:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			s, err := newMasterSet(urls, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range tt.steps {
				verb, arg, _ := strings.Cut(step, " ")
				switch verb {
				case "fail":
					s.fail(arg)
				case "wait":
					d, _ := time.ParseDuration(arg)
					clock.t = clock.t.Add(d)
				}
			}
			if got := s.pick(); got != tt.want {
				t.Errorf("after %v, pick() = %s; want %s", tt.steps, got, tt.want)
			}
		})
	}
}

func TestMasterSetUpdate(t *testing.T) {
	s, err := newMasterSet([]string{"https://m1:6443", "https://m2:6443"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.fail("m1:6443")
	if changed, err := s.update([]string{"https://m3:6443", "https://m2:6443", "https://m2:6443"}); !changed || err != nil {
		t.Fatalf("update() = %t, %v; want true, nil", changed, err)
	}
	if got := s.pick(); got != "m2:6443" {
		t.Errorf("after update, pick() = %s; want the current master m2:6443 kept", got)
	}
	if !s.add("https://m4:6443") || s.add("https://m4:6443") {
		t.Error("add() of a new master = false or of a known one = true")
	}
	if got, want := s.urls(), []string{"https://m3:6443", "https://m2:6443", "https://m4:6443"}; !slices.Equal(got, want) {
		t.Errorf("urls() = %v; want %v", got, want)
	}
	for _, bad := range [][]string{nil, {"http://m1"}, {"https://"}} {
		if _, err := newMasterSet(bad, time.Now); err == nil {
			t.Errorf("newMasterSet(%q) = nil error; want one", bad)
		}
	}
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestFailoverTransport(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(body))
	}))
	defer live.Close()
	liveHost := strings.TrimPrefix(live.URL, "http://")
	tests := []struct {
		name   string
		method string
		body   string
	}{
		{name: "get", method: http.MethodGet},
		{name: "post is resent when the dial failed", method: http.MethodPost, body: "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead := deadAddr(t)
			set, err := newMasterSet([]string{"https://" + dead, "https://" + liveHost}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			rt := &failoverTransport{set: set, next: http.DefaultTransport}
			req, _ := http.NewRequest(tt.method, "http://"+dead+"/x", strings.NewReader(tt.body))
			if tt.body == "" {
				req.Body, req.GetBody = http.NoBody, nil
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want the live master's answer", err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := tt.method + " " + tt.body; string(got) != want {
				t.Errorf("RoundTrip() answered %q; want %q", got, want)
			}
			if set.pick() != liveHost {
				t.Errorf("after a dial failure, pick() = %s; want the live master %s", set.pick(), liveHost)
			}
		})
	}
}

func TestFailoverTransportAllDown(t *testing.T) {
	set, err := newMasterSet([]string{"https://" + deadAddr(t), "https://" + deadAddr(t)}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rt := &failoverTransport{set: set, next: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	if _, err := rt.RoundTrip(req); err == nil || !unreachable(err) {
		t.Errorf("RoundTrip() with every master down = %v; want a connection error", err)
	}
}
