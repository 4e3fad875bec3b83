package kubeletapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// get sends a GET and returns the status code and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestHTTPErrorsAndLogs(t *testing.T) {
	ts := startServer(t, nil)
	client := ts.httpClient(t, true)
	anonymous := ts.httpClient(t, false)
	base := "https://" + ts.addr
	tests := []struct {
		name     string
		client   *http.Client
		method   string
		path     string
		wantCode int
		// wantBody is the whole plain body, or a fragment of a Status's message.
		wantBody string
		wantLog  string // the container ID the runtime's Logs was called for
	}{
		{name: "healthz", client: anonymous, path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "no client certificate", client: anonymous, path: "/containerLogs/default/web/app", wantCode: 403,
			wantBody: "forbidden: a verified client certificate is required"},
		{name: "unknown path", client: client, path: "/metrics", wantCode: 404, wantBody: "could not find the requested resource"},
		{name: "wrong method", client: client, method: "DELETE", path: "/exec/default/web/app", wantCode: 405, wantBody: "method DELETE is not allowed"},
		{name: "logs", client: client, path: "/containerLogs/default/web/app", wantCode: 200, wantBody: "one\ntwo\nthree\n", wantLog: "c-app-1"},
		{name: "logs tail and timestamps", client: client, path: "/containerLogs/default/web/app?tailLines=1&timestamps=true", wantCode: 200,
			wantBody: "2025-01-02T03:04:05Z three\n", wantLog: "c-app-1"},
		{name: "previous logs", client: client, path: "/containerLogs/default/web/app?previous=true", wantCode: 200, wantBody: "one\ntwo\nthree\n", wantLog: "c-app-0"},
		{name: "no previous attempt", client: client, path: "/containerLogs/default/web/sidecar?previous=true", wantCode: 404,
			wantBody: `previous terminated container \"sidecar\" in pod \"web\" not found`},
		{name: "unknown pod", client: client, path: "/containerLogs/default/ghost/app", wantCode: 404, wantBody: `pod \"ghost\" in namespace \"default\" not found`},
		{name: "unknown container", client: client, path: "/containerLogs/default/web/db", wantCode: 404, wantBody: `container \"db\" in pod \"web\" not found`},
		{name: "bad tailLines", client: client, path: "/containerLogs/default/web/app?tailLines=ten", wantCode: 400, wantBody: `tailLines: invalid value \"ten\"`},
		{name: "exec without upgrade", client: client, path: "/exec/default/web/app?command=ls&output=1", wantCode: 400, wantBody: "needs a WebSocket"},
		{name: "exec without streams", client: client, path: "/exec/default/web/app?command=ls", wantCode: 400, wantBody: "at least one of input, output and error"},
		{name: "exec in unknown container", client: client, path: "/exec/default/web/db?command=ls&output=1", wantCode: 404, wantBody: `container \"db\"`},
		{name: "port-forward to unknown pod", client: client, path: "/portForward/default/ghost", wantCode: 404, wantBody: `pod \"ghost\"`},
		{name: "port-forward without upgrade", client: client, path: "/portForward/default/web", wantCode: 400, wantBody: "needs a WebSocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			body := string(raw)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("%s %s = %d %s; want %d", method, tt.path, resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantCode == 200 {
				if body != tt.wantBody {
					t.Errorf("%s %s body = %q; want %q", method, tt.path, body, tt.wantBody)
				}
			} else {
				var st metav1.Status
				if err := json.Unmarshal(raw, &st); err != nil || st.Kind != "Status" || st.Code != int32(tt.wantCode) {
					t.Errorf("%s %s body = %s (%v); want a Status with code %d", method, tt.path, body, err, tt.wantCode)
				}
				if !strings.Contains(body, tt.wantBody) {
					t.Errorf("%s %s body = %s; want it to contain %s", method, tt.path, body, tt.wantBody)
				}
			}
			if tt.wantLog != "" {
				ts.rt.mu.Lock()
				got := ts.rt.logIDs[len(ts.rt.logIDs)-1]
				ts.rt.mu.Unlock()
				if got != tt.wantLog {
					t.Errorf("Logs was called for %s; want %s", got, tt.wantLog)
				}
			}
		})
	}
}

func TestCustomAuthorize(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Authorize = func(r *http.Request) error {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "capstan-apiserver" {
				return errors.New("only the API server may use the kubelet API")
			}
			return nil
		}
	})
	intruderPEM, intruderKey := ts.pki.issue(t, "intruder", x509.ExtKeyUsageClientAuth)
	intruder, err := tls.X509KeyPair(intruderPEM, intruderKey)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.pki.pool, Certificates: []tls.Certificate{intruder}}}
	defer tr.CloseIdleConnections()
	tests := []struct {
		name     string
		client   *http.Client
		wantCode int
	}{
		{name: "API server", client: ts.httpClient(t, true), wantCode: 200},
		{name: "other client of the CA", client: &http.Client{Transport: tr}, wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, tt.client, "https://"+ts.addr+"/containerLogs/default/web/app")
			if code != tt.wantCode {
				t.Fatalf("GET /containerLogs = %d %s; want %d", code, body, tt.wantCode)
			}
			if code == 403 && !strings.Contains(body, "only the API server may use the kubelet API") {
				t.Errorf("403 body = %s; want Authorize's message", body)
			}
		})
	}
}

// TestFollowLogs checks that a follow streams lines as they are written and that the runtime's
// context ends when the client goes away.
func TestFollowLogs(t *testing.T) {
	ts := startServer(t, nil)
	client := ts.httpClient(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+ts.addr+"/containerLogs/default/web/app?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want text/plain", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	for _, want := range testLogLines {
		if !sc.Scan() || sc.Text() != want {
			t.Fatalf("line = %q (%v); want %q", sc.Text(), sc.Err(), want)
		}
	}
	waitFor(t, ts.rt.blocked, "the follow to block")
	cancel()
	if got := waitFor(t, ts.rt.ended, "the follow's context to end"); got != "logs c-app-1" {
		t.Errorf("ended %q; want logs c-app-1", got)
	}
}

// TestMaxStreams checks that requests beyond MaxStreams are refused with 429.
func TestMaxStreams(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxStreams = 1 })
	client := ts.httpClient(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+ts.addr+"/containerLogs/default/web/app?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitFor(t, ts.rt.blocked, "the follow to block")
	code, body := get(t, client, "https://"+ts.addr+"/containerLogs/default/web/app")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "already serving 1 streams") {
		t.Fatalf("second request = %d %s; want 429", code, body)
	}
	if code, _ := get(t, client, "https://"+ts.addr+"/healthz"); code != 200 {
		t.Errorf("healthz = %d beyond MaxStreams; want 200", code)
	}
	cancel()
	waitFor(t, ts.rt.ended, "the follow to end")
	deadline := time.Now().Add(30 * time.Second)
	for code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not released: last answer %d", code)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
		code, _ = get(t, client, "https://"+ts.addr+"/containerLogs/default/web/app")
	}
}

// TestServeStopsSessions checks that Serve, once its context ends, ends follows and upgraded
// sessions and returns nil.
func TestServeStopsSessions(t *testing.T) {
	ts := startServer(t, nil)
	client := ts.httpClient(t, true)
	resp, err := client.Get("https://" + ts.addr + "/containerLogs/default/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitFor(t, ts.rt.blocked, "the follow to block")
	execDone := make(chan error, 1)
	go func() {
		execDone <- streamExec(context.Background(), ts, "websocket", "/exec/default/web/app?command=sleep&output=1", streamIO{stdout: io.Discard})
	}()
	waitFor(t, ts.rt.blocked, "the exec to block")
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve = %v; want nil", err)
	}
	ended := map[string]bool{waitFor(t, ts.rt.ended, "a session to end"): true, waitFor(t, ts.rt.ended, "a session to end"): true}
	if !ended["logs c-app-1"] || !ended["exec c-app-1"] {
		t.Errorf("ended %v; want the follow and the exec", ended)
	}
	select {
	case err := <-execDone:
		if err == nil {
			t.Errorf("the exec client saw a clean end of a session the server stopped")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the exec client did not notice the server stopping")
	}
	_, _ = io.ReadAll(resp.Body) // returns: the server ended the follow
}
