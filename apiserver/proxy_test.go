package apiserver

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodLogsAreProxiedToTheKubelet checks the path and query the node agent receives, and
// the errors for pods that cannot be reached.
func TestPodLogsAreProxiedToTheKubelet(t *testing.T) {
	seen := make(chan *url.URL, 10)
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the user's credentials were forwarded to the kubelet")
		}
		seen <- r.URL
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer kubelet.Close()
	ts := newTestServer(t, func(c *Config) {
		c.Kubelet = &KubeletConfig{TLS: &tls.Config{InsecureSkipVerify: true}}
	})
	ctx := context.Background()
	host, portText, _ := net.SplitHostPort(strings.TrimPrefix(kubelet.URL, "https://"))
	port, _ := strconv.Atoi(portText)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	node, err := ts.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := ts.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "two"}, Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	} {
		if _, err := ts.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		path      string
		wantCode  int
		wantPath  string
		wantQuery string
		wantError string
	}{
		{name: "log", path: "/api/v1/namespaces/default/pods/bound/log?tailLines=5&follow=true", wantCode: 200, wantPath: "/containerLogs/default/bound/c", wantQuery: "follow=true&tailLines=5"},
		{name: "named container", path: "/api/v1/namespaces/default/pods/two/log?container=b", wantCode: 200, wantPath: "/containerLogs/default/two/b"},
		{name: "container required", path: "/api/v1/namespaces/default/pods/two/log", wantCode: 400, wantError: "a container name must be specified for pod two, choose one of: [a b]"},
		{name: "unknown container", path: "/api/v1/namespaces/default/pods/bound/log?container=x", wantCode: 400, wantError: "container x is not valid for pod bound"},
		{name: "unscheduled pod", path: "/api/v1/namespaces/default/pods/pending/log", wantCode: 400, wantError: "pod pending does not have a host assigned"},
		{name: "missing pod", path: "/api/v1/namespaces/default/pods/ghost/log", wantCode: 404, wantError: `ghost\" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, "GET", tt.path, "", "", nil, testToken)
			if code != tt.wantCode {
				t.Fatalf("code %d, want %d: %s", code, tt.wantCode, body)
			}
			if tt.wantError != "" {
				if !strings.Contains(string(body), tt.wantError) {
					t.Fatalf("body %s does not say %q", body, tt.wantError)
				}
				return
			}
			got := <-seen
			if got.Path != tt.wantPath || got.RawQuery != tt.wantQuery {
				t.Fatalf("kubelet saw %s?%s, want %s?%s", got.Path, got.RawQuery, tt.wantPath, tt.wantQuery)
			}
			if want := "hello from " + tt.wantPath; string(body) != want {
				t.Fatalf("body %q, want %q", body, want)
			}
		})
	}
}

func TestKubeletQuery(t *testing.T) {
	tests := []struct {
		sub  string
		in   string
		want string
	}{
		{sub: "exec", in: "command=sh&command=-c&stdin=true&stdout=true&stderr=false&tty=true", want: "command=sh&command=-c&input=1&output=1&tty=1"},
		{sub: "attach", in: "stdout=1&stderr=true", want: "error=1&output=1"},
		{sub: "log", in: "previous=true&timestamps=true&sinceSeconds=10&limitBytes=5&bogus=1", want: "limitBytes=5&previous=true&sinceSeconds=10&timestamps=true"},
	}
	for _, tt := range tests {
		in, _ := url.ParseQuery(tt.in)
		if got := kubeletQuery(tt.sub, in).Encode(); got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.sub, tt.in, got, tt.want)
		}
	}
}
