package kubeletapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		want     target
		wantCode int32
	}{
		{name: "logs", method: "GET", path: "/containerLogs/ns/p/c", want: target{endpoint: endpointLogs, namespace: "ns", pod: "p", container: "c"}},
		{name: "exec get", method: "GET", path: "/exec/ns/p/c", want: target{endpoint: endpointExec, namespace: "ns", pod: "p", container: "c"}},
		{name: "exec post", method: "POST", path: "/exec/ns/p/c", want: target{endpoint: endpointExec, namespace: "ns", pod: "p", container: "c"}},
		{name: "attach", method: "POST", path: "/attach/ns/p/c", want: target{endpoint: endpointAttach, namespace: "ns", pod: "p", container: "c"}},
		{name: "port-forward", method: "GET", path: "/portForward/ns/p", want: target{endpoint: endpointPortForward, namespace: "ns", pod: "p"}},
		{name: "unknown endpoint", method: "GET", path: "/run/ns/p/c", wantCode: 404},
		{name: "root", method: "GET", path: "/", wantCode: 404},
		{name: "container missing", method: "GET", path: "/exec/ns/p", wantCode: 404},
		{name: "extra segment", method: "GET", path: "/containerLogs/ns/p/c/x", wantCode: 404},
		{name: "trailing slash", method: "GET", path: "/portForward/ns/p/", wantCode: 404},
		{name: "empty name", method: "GET", path: "/containerLogs/ns//c", wantCode: 404},
		{name: "logs by post", method: "POST", path: "/containerLogs/ns/p/c", wantCode: 405},
		{name: "exec by put", method: "PUT", path: "/exec/ns/p/c", wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePath(tt.method, tt.path)
			if tt.wantCode != 0 {
				if code := statusFor(err).Code; err == nil || code != tt.wantCode {
					t.Fatalf("parsePath(%s %s) = %+v, %v (code %d); want code %d", tt.method, tt.path, got, err, code, tt.wantCode)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parsePath(%s %s) = %+v, %v; want %+v", tt.method, tt.path, got, err, tt.want)
			}
		})
	}
}

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	three, zero := int64(3), int64(0)
	tests := []struct {
		name         string
		query        string
		want         runtime.LogOptions
		wantPrevious bool
		wantErr      string
	}{
		{name: "none", query: ""},
		{name: "follow", query: "follow=true", want: runtime.LogOptions{Follow: true}},
		{name: "previous", query: "previous=true", wantPrevious: true},
		{name: "timestamps as 1", query: "timestamps=1", want: runtime.LogOptions{Timestamps: true}},
		{name: "false flags", query: "follow=false&previous=0", want: runtime.LogOptions{}},
		{name: "sinceSeconds", query: "sinceSeconds=90", want: runtime.LogOptions{Since: now.Add(-90 * time.Second)}},
		{name: "sinceTime", query: "sinceTime=2025-05-31T10:00:00Z", want: runtime.LogOptions{Since: time.Date(2025, 5, 31, 10, 0, 0, 0, time.UTC)}},
		{name: "sinceTime with zone", query: "sinceTime=2025-05-31T12:00:00%2B02:00", want: runtime.LogOptions{Since: time.Date(2025, 5, 31, 10, 0, 0, 0, time.UTC)}},
		{name: "tailLines", query: "tailLines=3", want: runtime.LogOptions{TailLines: &three}},
		{name: "tailLines zero", query: "tailLines=0", want: runtime.LogOptions{TailLines: &zero}},
		{name: "limitBytes", query: "limitBytes=4096", want: runtime.LogOptions{LimitBytes: 4096}},
		{name: "all", query: "follow=true&previous=true&timestamps=true&sinceSeconds=1&tailLines=3&limitBytes=10",
			want:         runtime.LogOptions{Follow: true, Timestamps: true, Since: now.Add(-time.Second), TailLines: &three, LimitBytes: 10},
			wantPrevious: true},
		{name: "tailLines not an integer", query: "tailLines=ten", wantErr: `tailLines: invalid value "ten": must be an integer`},
		{name: "tailLines negative", query: "tailLines=-1", wantErr: "tailLines: invalid value -1: must be greater than or equal to 0"},
		{name: "sinceSeconds zero", query: "sinceSeconds=0", wantErr: "sinceSeconds: invalid value 0: must be greater than 0"},
		{name: "sinceSeconds float", query: "sinceSeconds=1.5", wantErr: `sinceSeconds: invalid value "1.5": must be an integer`},
		{name: "limitBytes zero", query: "limitBytes=0", wantErr: "limitBytes: invalid value 0: must be greater than 0"},
		{name: "sinceTime not RFC 3339", query: "sinceTime=yesterday", wantErr: `sinceTime: invalid value "yesterday": must be an RFC 3339 time`},
		{name: "both since", query: "sinceSeconds=5&sinceTime=2025-05-31T10:00:00Z", wantErr: "at most one of sinceTime or sinceSeconds may be specified"},
		{name: "follow not a boolean", query: "follow=yes", wantErr: `follow: invalid value "yes": must be a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, previous, err := parseLogOptions(q, now)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || statusFor(err).Code != http.StatusBadRequest {
					t.Fatalf("parseLogOptions(%q) error = %v; want 400 %q", tt.query, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLogOptions(%q) error = %v", tt.query, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || previous != tt.wantPrevious {
				t.Errorf("parseLogOptions(%q) = %+v, previous %t; want previous %t; diff (-want +got):\n%s", tt.query, got, previous, tt.wantPrevious, diff)
			}
		})
	}
}

func TestParseStreamOptions(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		exec    bool
		want    streamOptions
		wantErr string
	}{
		{name: "exec", query: "command=ls&command=-l&output=1&error=1", exec: true,
			want: streamOptions{stdout: true, stderr: true, command: []string{"ls", "-l"}}},
		{name: "exec with stdin", query: "command=cat&input=1&output=1", exec: true,
			want: streamOptions{stdin: true, stdout: true, command: []string{"cat"}}},
		{name: "tty drops stderr", query: "command=sh&input=1&output=1&error=1&tty=1", exec: true,
			want: streamOptions{stdin: true, stdout: true, tty: true, command: []string{"sh"}}},
		{name: "true spelled out", query: "command=sh&output=true", exec: true, want: streamOptions{stdout: true, command: []string{"sh"}}},
		{name: "attach needs no command", query: "output=1&error=1", want: streamOptions{stdout: true, stderr: true}},
		{name: "no streams", query: "command=ls", exec: true, wantErr: "you must specify at least one of input, output and error"},
		{name: "no command", query: "output=1", exec: true, wantErr: "you must specify a command"},
		{name: "empty command", query: "command=&output=1", exec: true, wantErr: "you must specify a command"},
		{name: "bad boolean", query: "command=ls&output=maybe", exec: true, wantErr: `output: invalid value "maybe": must be a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseStreamOptions(q, tt.exec)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || statusFor(err).Code != http.StatusBadRequest {
					t.Fatalf("parseStreamOptions(%q) error = %v; want 400 %q", tt.query, err, tt.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(streamOptions{})); err != nil || diff != "" {
				t.Errorf("parseStreamOptions(%q) = %+v, %v; diff (-want +got):\n%s", tt.query, got, err, diff)
			}
		})
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   int32
		wantReason metav1.StatusReason
	}{
		{name: "bad request", err: badRequest("x"), wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "pod not found", err: ErrPodNotFound, wantCode: 404, wantReason: metav1.StatusReasonNotFound},
		{name: "wrapped container not found", err: fmt.Errorf("no such thing: %w", ErrContainerNotFound), wantCode: 404, wantReason: metav1.StatusReasonNotFound},
		{name: "runtime not found", err: fmt.Errorf("exec: %w", runtime.ErrNotFound), wantCode: 404, wantReason: metav1.StatusReasonNotFound},
		{name: "not running", err: runtime.ErrNotRunning, wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "runtime down", err: runtime.ErrUnavailable, wantCode: 503, wantReason: metav1.StatusReasonServiceUnavailable},
		{name: "other", err: errors.New("boom"), wantCode: 500, wantReason: metav1.StatusReasonInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := statusFor(tt.err)
			if st.Code != tt.wantCode || st.Reason != tt.wantReason || st.Message != tt.err.Error() || st.Status != metav1.StatusFailure {
				t.Errorf("statusFor(%v) = %+v; want code %d reason %s", tt.err, st, tt.wantCode, tt.wantReason)
			}
		})
	}
}

// messagePods returns a fixed error from ContainerID.
type messagePods struct{ err error }

func (p messagePods) PodUID(string, string) (string, error) { return "", p.err }
func (p messagePods) ContainerID(string, string, string, bool) (string, error) {
	return "", p.err
}

func TestNotFoundMessages(t *testing.T) {
	custom := fmt.Errorf("container c is waiting to start: %w", ErrContainerNotFound)
	tests := []struct {
		name     string
		err      error
		previous bool
		want     string
	}{
		{name: "pod", err: ErrPodNotFound, want: `pod "p" in namespace "ns" not found on this node`},
		{name: "container", err: ErrContainerNotFound, want: `container "c" in pod "p" not found`},
		{name: "previous", err: ErrContainerNotFound, previous: true, want: `previous terminated container "c" in pod "p" not found`},
		{name: "implementation's own message", err: custom, want: custom.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: Config{Pods: messagePods{err: tt.err}}}
			_, err := s.containerID(target{namespace: "ns", pod: "p", container: "c"}, tt.previous)
			if st := statusFor(err); st.Message != tt.want || st.Code != http.StatusNotFound {
				t.Errorf("containerID error = %d %q; want 404 %q", st.Code, st.Message, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	pki := newTestPKI(t)
	valid := func() Config {
		c := DefaultConfig()
		c.Runtime = &fakeRuntime{}
		c.Pods = fakePods{}
		c.TLS = pki.serverTLS()
		return c
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "authorize without client CAs", mutate: func(c *Config) {
			c.TLS = &tls.Config{Certificates: c.TLS.Certificates}
			c.Authorize = func(*http.Request) error { return nil }
		}},
		{name: "missing collaborators", mutate: func(c *Config) { c.Runtime, c.Pods, c.TLS = nil, nil, nil },
			wantErr: []string{"Runtime is required", "Pods is required", "TLS is required"}},
		{name: "no certificate", mutate: func(c *Config) { c.TLS = &tls.Config{ClientCAs: x509.NewCertPool()} },
			wantErr: []string{"TLS has no server certificate"}},
		{name: "client certificates not verified", mutate: func(c *Config) { c.TLS.ClientAuth = tls.RequestClientCert },
			wantErr: []string{"without Authorize, TLS must verify client certificates: ClientAuth is RequestClientCert"}},
		{name: "bad limits", mutate: func(c *Config) {
			c.StreamIdleTimeout, c.StreamCreationTimeout, c.MaxStreams, c.ShutdownTimeout = 0, -time.Second, 0, 0
		}, wantErr: []string{"StreamIdleTimeout 0s must be positive", "StreamCreationTimeout -1s must be positive",
			"MaxStreams 0 must be positive", "ShutdownTimeout 0s must be positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v; want it to say %q", err, want)
				}
			}
			if _, nerr := New(c); nerr == nil {
				t.Errorf("New accepted an invalid Config")
			}
		})
	}
}
