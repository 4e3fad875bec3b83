package apiserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequestBody sends arbitrary bodies to the create, update and patch endpoints: every
// reply must be a success or a 4xx, never a 5xx or a panic, and a refused request must write
// nothing.
func FuzzRequestBody(f *testing.F) {
	seeds := []struct {
		method, path, contentType, body string
	}{
		{"POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`},
		{"POST", "/api/v1/namespaces/default/pods", "application/yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n"},
		{"POST", "/api/v1/namespaces", "application/vnd.kubernetes.protobuf", "k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x08\n\x06\n\x01x"},
		{"PUT", "/api/v1/namespaces/default/configmaps/a", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"1"}}`},
		{"PATCH", "/api/v1/namespaces/default/configmaps/a", "application/merge-patch+json", `{"data":{"x":null}}`},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/d", "application/apply-patch+yaml", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}`},
		{"DELETE", "/api/v1/namespaces/default/configmaps/a", "application/json", `{"propagationPolicy":"Foreground","preconditions":{"uid":"x"}}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.contentType, []byte(s.body))
	}
	ts := newTestServer(f, nil)
	h := ts.api.Handler()
	f.Fuzz(func(t *testing.T, method, path, contentType string, body []byte) {
		switch method {
		case "POST", "PUT", "PATCH", "DELETE", "GET":
		default:
			return
		}
		if len(path) == 0 || path[0] != '/' {
			return
		}
		_, before := ts.store.Hash()
		req, err := http.NewRequest(method, "http://capstan"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						return
					}
					t.Fatalf("%s %s (%s) panicked: %v", method, path, contentType, p)
				}
			}()
			h.ServeHTTP(rec, req)
		}()
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%s, %q) = %d: %s", method, path, contentType, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			if _, after := ts.store.Hash(); after != before && method != "DELETE" {
				t.Fatalf("%s %s (%s) was refused with %d but the store changed", method, path, contentType, rec.Code)
			}
		}
	})
}
