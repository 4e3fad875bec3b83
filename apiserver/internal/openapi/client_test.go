package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
)

// Content types client-go asks for and what the server must answer.
const (
	// v2AcceptProtobuf is the Accept header client-go's discovery client sends
	// for /openapi/v2.
	v2AcceptProtobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	// v2ContentTypeProtobuf is the answer's content type that client-go's
	// mime parser accepts.
	v2ContentTypeProtobuf = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// newTestServer serves the documents of testResources on an httptest server.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	if err := newTestService(t).Install(mux); err != nil {
		t.Fatalf("Install = %v", err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// newDiscoveryClient returns client-go's discovery client for srv, the client
// kubectl fetches OpenAPI documents with.
func newDiscoveryClient(t *testing.T, srv *httptest.Server) *discovery.DiscoveryClient {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatalf("NewDiscoveryClientForConfig = %v", err)
	}
	return dc
}

// get fetches path from srv with the Accept header, or fails the test.
func get(t *testing.T, srv *httptest.Server, path, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s = %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading GET %s = %v", path, err)
	}
	return resp, body
}

// TestClientGoOpenAPIV3 reads the v3 documents the way kubectl does, through
// client-go's OpenAPI v3 client and openapi3.Root, and finds what apply and
// explain look for.
func TestClientGoOpenAPIV3(t *testing.T) {
	srv := newTestServer(t)
	client := newDiscoveryClient(t, srv).OpenAPIV3()

	paths, err := client.Paths()
	if err != nil {
		t.Fatalf("Paths() = %v", err)
	}
	for _, want := range []string{"api/v1", "apis/apps/v1", "apis/batch/v1"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("Paths() lacks %q; got %v", want, paths)
		}
	}

	root := openapi3.NewRoot(client)
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatalf("GroupVersions() = %v", err)
	}
	if len(gvs) != 3 {
		t.Errorf("GroupVersions() = %v; want core/v1, apps/v1 and batch/v1", gvs)
	}

	tests := []struct {
		name      string
		gvk       schema.GroupVersionKind
		patchPath string
	}{
		{name: "deployment", gvk: deploymentGVK, patchPath: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"},
		{name: "pod", gvk: podGVK, patchPath: "/api/v1/namespaces/{namespace}/pods/{name}"},
		{name: "namespace", gvk: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, patchPath: "/api/v1/namespaces/{name}"},
		{name: "job", gvk: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, patchPath: "/apis/batch/v1/namespaces/{namespace}/jobs/{name}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := root.GVSpec(tt.gvk.GroupVersion())
			if err != nil {
				t.Fatalf("GVSpec(%v) = %v", tt.gvk.GroupVersion(), err)
			}
			// explain: a component schema carries the kind's GVK.
			if name := schemaForGVK(doc, tt.gvk); name == "" {
				t.Errorf("no schema of %v carries x-kubernetes-group-version-kind %v", tt.gvk.GroupVersion(), tt.gvk)
			}
			// apply: the PATCH operation names the kind and takes fieldValidation.
			item := doc.Paths.Paths[tt.patchPath]
			if item == nil || item.Patch == nil {
				t.Fatalf("GVSpec(%v) has no PATCH %s", tt.gvk.GroupVersion(), tt.patchPath)
			}
			gvk, _ := item.Patch.Extensions[extensionGVK].(map[string]interface{})
			if gvk["group"] != tt.gvk.Group || gvk["version"] != tt.gvk.Version || gvk["kind"] != tt.gvk.Kind {
				t.Errorf("PATCH %s x-kubernetes-group-version-kind = %v; want %v", tt.patchPath, gvk, tt.gvk)
			}
			var fieldValidation bool
			for _, p := range item.Patch.Parameters {
				fieldValidation = fieldValidation || p.Name == "fieldValidation" && p.In == "query"
			}
			if !fieldValidation {
				t.Errorf("PATCH %s has no fieldValidation query parameter", tt.patchPath)
			}
		})
	}

	// GVSpecAsMap is what kubectl explain renders from.
	m, err := root.GVSpecAsMap(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatalf("GVSpecAsMap(apps/v1) = %v", err)
	}
	if _, ok := m["components"]; !ok {
		t.Errorf("GVSpecAsMap(apps/v1) has no components; keys %v", mapKeys(m))
	}
}

// schemaForGVK returns the name of the component schema tagged with gvk.
func schemaForGVK(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) string {
	for name, s := range doc.Components.Schemas {
		list, _ := s.Extensions[extensionGVK].([]interface{})
		for _, item := range list {
			m, _ := item.(map[string]interface{})
			if m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind {
				return name
			}
		}
	}
	return ""
}

// mapKeys returns m's keys, for messages.
func mapKeys(m map[string]interface{}) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// TestSpec3ParsesServedDocuments decodes every served v3 document with
// kube-openapi's spec3 types, and the strategic-merge metadata of
// PodSpec.containers survives the trip.
func TestSpec3ParsesServedDocuments(t *testing.T) {
	srv := newTestServer(t)
	_, body := get(t, srv, "/openapi/v3", "application/json")
	var index handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatalf("decoding the v3 index = %v", err)
	}
	for key, gv := range index.Paths {
		t.Run(key, func(t *testing.T) {
			resp, body := get(t, srv, gv.ServerRelativeURL, "application/json")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %s", gv.ServerRelativeURL, resp.Status)
			}
			var doc spec3.OpenAPI
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("decoding %s = %v", gv.ServerRelativeURL, err)
			}
			podSpec, ok := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]
			if !ok {
				t.Fatalf("%s has no io.k8s.api.core.v1.PodSpec", key)
			}
			containers := podSpec.Properties["containers"]
			if got := containers.Extensions["x-kubernetes-patch-strategy"]; got != "merge" {
				t.Errorf("%s: PodSpec.containers x-kubernetes-patch-strategy = %v; want merge", key, got)
			}
			if got := containers.Extensions["x-kubernetes-patch-merge-key"]; got != "name" {
				t.Errorf("%s: PodSpec.containers x-kubernetes-patch-merge-key = %v; want name", key, got)
			}
			if got := containers.Extensions["x-kubernetes-list-type"]; got != "map" {
				t.Errorf("%s: PodSpec.containers x-kubernetes-list-type = %v; want map", key, got)
			}
		})
	}
}

// TestV3IndexAndCaching checks the index's ?hash= URLs and the caching
// headers kubectl's HTTP cache relies on.
func TestV3IndexAndCaching(t *testing.T) {
	srv := newTestServer(t)
	resp, body := get(t, srv, "/openapi/v3", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi/v3 = %s", resp.Status)
	}
	var index handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatalf("decoding the v3 index = %v", err)
	}
	if len(index.Paths) != 3 {
		t.Errorf("index has %d paths; want 3: %s", len(index.Paths), body)
	}
	for key, gv := range index.Paths {
		t.Run(key, func(t *testing.T) {
			u, err := url.Parse(gv.ServerRelativeURL)
			if err != nil {
				t.Fatalf("index URL %q: %v", gv.ServerRelativeURL, err)
			}
			hash := u.Query().Get("hash")
			if u.Path != "/openapi/v3/"+key || hash == "" {
				t.Fatalf("index URL of %s = %q; want /openapi/v3/%s?hash=<hash>", key, gv.ServerRelativeURL, key)
			}

			resp, _ := get(t, srv, gv.ServerRelativeURL, "application/json")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %s", gv.ServerRelativeURL, resp.Status)
			}
			if got, want := resp.Header.Get("Etag"), `"`+hash+`"`; got != want {
				t.Errorf("GET %s ETag = %s; want %s", gv.ServerRelativeURL, got, want)
			}
			if got := resp.Header.Get("Cache-Control"); got != "public, immutable" {
				t.Errorf("GET %s Cache-Control = %q; want %q", gv.ServerRelativeURL, got, "public, immutable")
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("GET %s Content-Type = %q; want application/json", gv.ServerRelativeURL, got)
			}

			// A stale hash redirects to the current one.
			resp, _ = get(t, srv, u.Path+"?hash=0000", "application/json")
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != gv.ServerRelativeURL {
				t.Errorf("GET %s?hash=0000 = %s to %q; want 301 to %q", u.Path, resp.Status, resp.Header.Get("Location"), gv.ServerRelativeURL)
			}

			// Revalidation by ETag.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+gv.ServerRelativeURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("If-None-Match", `"`+hash+`"`)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match = %s; want 304", gv.ServerRelativeURL, resp.Status)
			}
		})
	}

	tests := []struct {
		name   string
		path   string
		accept string
		want   int
	}{
		{name: "unknown group version", path: "/openapi/v3/apis/example.com/v1", want: http.StatusNotFound},
		{name: "group without version", path: "/openapi/v3/apis/apps", want: http.StatusNotFound},
		{name: "protobuf v3", path: "/openapi/v3/apis/apps/v1", accept: "application/com.github.proto-openapi.spec.v3.v1.0+protobuf", want: http.StatusOK},
		{name: "unacceptable type", path: "/openapi/v3/apis/apps/v1", accept: "text/html", want: http.StatusNotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, _ := get(t, srv, tt.path, tt.accept); resp.StatusCode != tt.want {
				t.Errorf("GET %s (Accept %q) = %s; want %d", tt.path, tt.accept, resp.Status, tt.want)
			}
		})
	}
}

// TestOpenAPIV2Protobuf reads the v2 document as client-go does: protobuf
// with client-go's exact Accept header, decoded by gnostic and turned into
// kube-openapi proto models, which kubectl uses for validation, explain
// (--output plaintext-openapiv2) and client-side apply's strategic merge.
func TestOpenAPIV2Protobuf(t *testing.T) {
	srv := newTestServer(t)

	resp, body := get(t, srv, "/openapi/v2", v2AcceptProtobuf)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi/v2 = %s", resp.Status)
	}
	if got := resp.Header.Get("Content-Type"); got != v2ContentTypeProtobuf {
		t.Errorf("GET /openapi/v2 Content-Type = %q; want %q", got, v2ContentTypeProtobuf)
	}
	if resp.Header.Get("Etag") == "" {
		t.Error("GET /openapi/v2 has no ETag")
	}
	var raw openapi_v2.Document
	if err := proto.Unmarshal(body, &raw); err != nil {
		t.Fatalf("decoding the v2 protobuf = %v", err)
	}

	// client-go's discovery client, as kubectl's v2 fallback calls it.
	doc, err := newDiscoveryClient(t, srv).OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema() = %v", err)
	}
	models, err := protomodels.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("NewOpenAPIData = %v", err)
	}
	deployment, ok := models.LookupModel("io.k8s.api.apps.v1.Deployment").(*protomodels.Kind)
	if !ok {
		t.Fatalf("LookupModel(io.k8s.api.apps.v1.Deployment) = %T; want a *proto.Kind", models.LookupModel("io.k8s.api.apps.v1.Deployment"))
	}
	for _, field := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
		if _, ok := deployment.Fields[field]; !ok {
			t.Errorf("Deployment model lacks field %s; has %v", field, deployment.Keys())
		}
	}
	gvks, _ := deployment.GetExtensions()[extensionGVK].([]interface{})
	if len(gvks) != 1 {
		t.Errorf("Deployment model x-kubernetes-group-version-kind = %v; want one apps/v1 Deployment", deployment.GetExtensions()[extensionGVK])
	}

	// Client-side apply computes a strategic merge patch from this model:
	// containers merge by name.
	meta := strategicpatch.NewPatchMetaFromOpenAPI(deployment)
	var pm strategicpatch.LookupPatchMeta = meta
	for _, field := range []string{"spec", "template", "spec"} {
		pm, _, err = pm.LookupPatchMetadataForStruct(field)
		if err != nil {
			t.Fatalf("LookupPatchMetadataForStruct(%s) = %v", field, err)
		}
	}
	_, containers, err := pm.LookupPatchMetadataForSlice("containers")
	if err != nil {
		t.Fatalf("LookupPatchMetadataForSlice(containers) = %v", err)
	}
	if got := containers.GetPatchStrategies(); len(got) != 1 || got[0] != "merge" || containers.GetPatchMergeKey() != "name" {
		t.Errorf("Deployment spec.template.spec.containers patch meta = %v by %q; want [merge] by \"name\"", got, containers.GetPatchMergeKey())
	}

	// The JSON form is served too, to other clients.
	resp, body = get(t, srv, "/openapi/v2", "application/json")
	if resp.StatusCode != http.StatusOK || !json.Valid(body) {
		t.Errorf("GET /openapi/v2 as JSON = %s, valid JSON %v", resp.Status, json.Valid(body))
	}
}

func TestInstallRejectsTakenPaths(t *testing.T) {
	s := newTestService(t)
	tests := []struct {
		name    string
		pattern string
	}{
		{name: "v2", pattern: "/openapi/v2"},
		{name: "v3 index", pattern: "/openapi/v3"},
		{name: "v3 documents", pattern: "/openapi/v3/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc(tt.pattern, http.NotFound)
			if err := s.Install(mux); !errors.Is(err, ErrAlreadyRegistered) {
				t.Errorf("Install on a mux with %s = %v; want %v", tt.pattern, err, ErrAlreadyRegistered)
			}
		})
	}
	t.Run("unrelated patterns", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.HandleFunc("/", http.NotFound)
		mux.HandleFunc("/openapi/v2/extra", http.NotFound)
		if err := s.Install(mux); err != nil {
			t.Errorf("Install on a mux with / and /openapi/v2/extra = %v; want nil", err)
		}
	})
}

// TestConcurrentRequests serves the documents to many clients at once; with
// -race it checks that the handlers' lazy caches are safe.
func TestConcurrentRequests(t *testing.T) {
	srv := newTestServer(t)
	_, body := get(t, srv, "/openapi/v3", "")
	var index handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, gv := range index.Paths {
		urls = append(urls, gv.ServerRelativeURL)
	}
	urls = append(urls, "/openapi/v2")

	var wg sync.WaitGroup
	errs := make(chan error, 4*len(urls))
	for range 4 {
		for _, u := range urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				accept := "application/json"
				if strings.HasPrefix(u, "/openapi/v2") {
					accept = v2AcceptProtobuf
				}
				req, err := http.NewRequest(http.MethodGet, srv.URL+u, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Accept", accept)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					errs <- err
					return
				}
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET %s = %s", u, resp.Status)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
