package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectlPath is the plain kubectl 1.32 binary of the development machine
// (not the dispatcher, which would first ask the server for /version).
// CAPSTAN_KUBECTL overrides it.
const kubectlPath = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"

// aggregatedDiscoveryType is the content type of aggregated discovery v2.
const aggregatedDiscoveryType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// discoveryDocs returns the aggregated discovery documents of /api and /apis
// for resources: just enough for kubectl to map resource names to kinds.
func discoveryDocs(t *testing.T, resources []Resource) (core, groups []byte) {
	t.Helper()
	lists := map[bool]*apidiscoveryv2.APIGroupDiscoveryList{false: {}, true: {}}
	byGV := map[string]*apidiscoveryv2.APIVersionDiscovery{}
	var order []string
	for _, r := range resources {
		key := r.Group + "/" + r.Version
		if byGV[key] == nil {
			isCore := r.Group == ""
			list := lists[isCore]
			i := slices.IndexFunc(list.Items, func(g apidiscoveryv2.APIGroupDiscovery) bool { return g.Name == r.Group })
			if i < 0 {
				list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: r.Group}})
				i = len(list.Items) - 1
			}
			list.Items[i].Versions = append(list.Items[i].Versions, apidiscoveryv2.APIVersionDiscovery{Version: r.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent})
			byGV[key] = &list.Items[i].Versions[len(list.Items[i].Versions)-1]
			order = append(order, key)
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		res := apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Resource,
			ResponseKind:     &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind},
			Scope:            scope,
			SingularResource: strings.ToLower(r.Kind),
			Verbs:            r.Verbs,
		}
		for _, sub := range r.Subresources {
			res.Subresources = append(res.Subresources, apidiscoveryv2.APISubresourceDiscovery{Subresource: sub.Name, Verbs: sub.Verbs})
		}
		byGV[key].Resources = append(byGV[key].Resources, res)
	}
	encode := func(l *apidiscoveryv2.APIGroupDiscoveryList) []byte {
		l.TypeMeta = metav1.TypeMeta{APIVersion: "apidiscovery.k8s.io/v2", Kind: "APIGroupDiscoveryList"}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return encode(lists[true]), encode(lists[false])
}

// requestLog records the requests a test server saw, as "METHOD URI".
type requestLog struct {
	mu   sync.Mutex // protects uris
	uris []string
}

// wrap records each request before passing it to h.
func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.uris = append(l.uris, r.Method+" "+r.URL.RequestURI())
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// take returns the recorded requests and forgets them.
func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	uris := l.uris
	l.uris = nil
	return uris
}

// kubectlEnv is a throwaway server with aggregated discovery, our documents
// and stub object endpoints, and a way to run the real kubectl against it.
type kubectlEnv struct {
	kubectl    string
	srv        *httptest.Server
	log        *requestLog
	home       string
	kubeconfig string
}

// newKubectlEnv starts the server, or skips the test when kubectl is absent
// or -short is given.
func newKubectlEnv(t *testing.T) *kubectlEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the kubectl binary")
	}
	kubectl := kubectlPath
	if p := os.Getenv("CAPSTAN_KUBECTL"); p != "" {
		kubectl = p
	}
	if _, err := os.Stat(kubectl); err != nil {
		t.Skipf("no kubectl binary: %v", err)
	}

	resources := testResources()
	mux := http.NewServeMux()
	s, err := New(resources)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if err := s.Install(mux); err != nil {
		t.Fatalf("Install = %v", err)
	}
	core, groups := discoveryDocs(t, resources)
	serve := func(doc []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", aggregatedDiscoveryType)
			w.Write(doc)
		}
	}
	mux.HandleFunc("GET /api", serve(core))
	mux.HandleFunc("GET /apis", serve(groups))

	// Stub endpoints for one deployment: it never exists, and writes echo
	// the request body, which is all apply and create need to finish.
	const collection = "/apis/apps/v1/namespaces/default/deployments"
	mux.HandleFunc("GET "+collection+"/web", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(&metav1.Status{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
			Status:   metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			Message: `deployments.apps "web" not found`,
			Details: &metav1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"},
		})
	})
	echo := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var obj map[string]interface{}
			if err := json.NewDecoder(r.Body).Decode(&obj); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(obj)
		}
	}
	mux.HandleFunc("POST "+collection, echo(http.StatusCreated))
	mux.HandleFunc("PATCH "+collection+"/web", echo(http.StatusCreated))

	e := &kubectlEnv{kubectl: kubectl, log: &requestLog{}, home: t.TempDir()}
	e.srv = httptest.NewServer(e.log.wrap(mux))
	t.Cleanup(e.srv.Close)
	e.kubeconfig = filepath.Join(e.home, "kubeconfig")
	if err := os.WriteFile(e.kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs kubectl with args and a fresh cache, and returns its output and
// the requests the server saw, as "METHOD URI".
func (e *kubectlEnv) run(t *testing.T, args ...string) (string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	all := append([]string{
		"--server=" + e.srv.URL,
		"--kubeconfig=" + e.kubeconfig,
		"--cache-dir=" + filepath.Join(t.TempDir(), "cache"),
	}, args...)
	cmd := exec.CommandContext(ctx, e.kubectl, all...)
	cmd.Env = append(os.Environ(), "HOME="+e.home, "KUBECONFIG="+e.kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	requests := e.log.take()
	if err != nil {
		t.Fatalf("kubectl %s = %v\nstderr:\n%s\nrequests: %q", strings.Join(args, " "), err, stderr.String(), requests)
	}
	return stdout.String(), requests
}

// hasRequest reports whether a request starts with prefix ("METHOD URI")
// and contains every one of contains.
func hasRequest(requests []string, prefix string, contains ...string) bool {
	return slices.ContainsFunc(requests, func(r string) bool {
		if !strings.HasPrefix(r, prefix) {
			return false
		}
		for _, c := range contains {
			if !strings.Contains(r, c) {
				return false
			}
		}
		return true
	})
}

// TestKubectlExplain runs the real kubectl 1.32 explain over OpenAPI v3
// (kubectl's default) and over the v2 protobuf (--output
// plaintext-openapiv2).
func TestKubectlExplain(t *testing.T) {
	e := newKubectlEnv(t)
	tests := []struct {
		name string
		args []string
		// want are substrings of the output.
		want []string
		// wantRequest is a prefix of a request the server must have seen.
		wantRequest string
	}{
		{
			name:        "pod containers over v3",
			args:        []string{"explain", "pods.spec.containers"},
			want:        []string{"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>", "image\t<string>", "name\t<string> -required-"},
			wantRequest: "GET /openapi/v3/api/v1?hash=",
		},
		{
			name:        "deployment strategy over v3",
			args:        []string{"explain", "deployments.spec.strategy", "--api-version=apps/v1"},
			want:        []string{"KIND:       Deployment", "GROUP:      apps", "FIELD: strategy <DeploymentStrategy>", "rollingUpdate\t<RollingUpdateDeployment>"},
			wantRequest: "GET /openapi/v3/apis/apps/v1?hash=",
		},
		{
			name:        "job over v3, recursively",
			args:        []string{"explain", "jobs.spec", "--recursive"},
			want:        []string{"KIND:       Job", "GROUP:      batch", "backoffLimit\t<integer>", "containers\t<[]Container> -required-"},
			wantRequest: "GET /openapi/v3/apis/batch/v1?hash=",
		},
		{
			name:        "pod containers over the v2 protobuf",
			args:        []string{"explain", "pods.spec.containers", "--output=plaintext-openapiv2"},
			want:        []string{"KIND:     Pod", "RESOURCE: containers <[]Object>", "image\t<string>"},
			wantRequest: "GET /openapi/v2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, requests := e.run(t, tt.args...)
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("kubectl %s output lacks %q:\n%s", strings.Join(tt.args, " "), want, out)
				}
			}
			if !hasRequest(requests, tt.wantRequest) {
				t.Errorf("kubectl %s requested %q; want %s…", strings.Join(tt.args, " "), requests, tt.wantRequest)
			}
		})
	}
}

// deploymentYAML is the manifest the apply tests send.
const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
        ports:
        - containerPort: 80
`

// TestKubectlApply runs the real kubectl 1.32 create and apply (client- and
// server-side) under its default --validate=strict, which fails without
// usable OpenAPI documents: kubectl must fetch the apps/v1 v3 document and
// then send the write with fieldValidation=Strict.
func TestKubectlApply(t *testing.T) {
	e := newKubectlEnv(t)
	manifest := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(manifest, []byte(deploymentYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	const collection = "/apis/apps/v1/namespaces/default/deployments"
	tests := []struct {
		name      string
		args      []string
		wantWrite string
		wantQuery []string
	}{
		{
			name:      "create",
			args:      []string{"create", "-f", manifest},
			wantWrite: "POST " + collection + "?",
			wantQuery: []string{"fieldValidation=Strict"},
		},
		{
			name:      "client-side apply",
			args:      []string{"apply", "-f", manifest},
			wantWrite: "POST " + collection + "?",
			wantQuery: []string{"fieldManager=kubectl-client-side-apply", "fieldValidation=Strict"},
		},
		{
			name:      "server-side apply",
			args:      []string{"apply", "--server-side", "-f", manifest},
			wantWrite: "PATCH " + collection + "/web?",
			wantQuery: []string{"fieldManager=kubectl", "fieldValidation=Strict", "force=false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, requests := e.run(t, tt.args...)
			if !hasRequest(requests, "GET /openapi/v3/apis/apps/v1?hash=") {
				t.Errorf("kubectl %s requested %q; want the apps/v1 v3 document", strings.Join(tt.args, " "), requests)
			}
			if !hasRequest(requests, tt.wantWrite, tt.wantQuery...) {
				t.Errorf("kubectl %s requested %q; want %s… with %q", strings.Join(tt.args, " "), requests, tt.wantWrite, tt.wantQuery)
			}
		})
	}
}
