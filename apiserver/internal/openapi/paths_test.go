package openapi

import (
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// newTestService builds the documents of testResources.
func newTestService(t *testing.T) *Service {
	t.Helper()
	s, err := New(testResources())
	if err != nil {
		t.Fatalf("New(testResources()) = %v", err)
	}
	return s
}

// v2Operation returns the v2 operation of method on path and its path-level
// parameters.
func v2Operation(t *testing.T, doc *spec.Swagger, path, method string) (*spec.Operation, []spec.Parameter) {
	t.Helper()
	item, op := pathOperation(t, "v2", doc.Paths.Paths, path, method, func(item spec.PathItem) map[string]*spec.Operation {
		return map[string]*spec.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete}
	})
	return op, item.Parameters
}

// v3Operation returns the v3 operation of method on path and its path-level
// parameters.
func v3Operation(t *testing.T, doc *spec3.OpenAPI, path, method string) (*spec3.Operation, []*spec3.Parameter) {
	t.Helper()
	item, op := pathOperation(t, "v3", doc.Paths.Paths, path, method, func(item *spec3.Path) map[string]*spec3.Operation {
		return map[string]*spec3.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete}
	})
	return op, item.Parameters
}

// pathOperation returns the item of path in paths, the paths of the version
// document, and the item's operation of method, which byMethod lists. It
// fails the test when either is missing.
func pathOperation[I any, O any](t *testing.T, version string, paths map[string]I, path, method string, byMethod func(I) map[string]*O) (I, *O) {
	t.Helper()
	item, ok := paths[path]
	if !ok {
		t.Fatalf("%s document has no path %s", version, path)
	}
	op := byMethod(item)[method]
	if op == nil {
		t.Fatalf("%s path %s has no %s operation", version, path, method)
	}
	return item, op
}

// v3ParamNames returns the sorted names of the operation's parameters,
// including the path-level ones.
func v3ParamNames(op *spec3.Operation, pathParams []*spec3.Parameter) []string {
	var names []string
	for _, p := range append(slices.Clone(pathParams), op.Parameters...) {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// gvkExtension decodes an operation's x-kubernetes-group-version-kind.
func gvkExtension(t *testing.T, ext spec.Extensions) schema.GroupVersionKind {
	t.Helper()
	switch v := ext[extensionGVK].(type) {
	case metav1.GroupVersionKind:
		return schema.GroupVersionKind{Group: v.Group, Version: v.Version, Kind: v.Kind}
	case nil:
		return schema.GroupVersionKind{}
	default:
		t.Fatalf("x-kubernetes-group-version-kind has type %T", v)
		return schema.GroupVersionKind{}
	}
}

var (
	listParams = []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "pretty",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
	deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	podGVK        = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
)

// withParams returns base plus extra, sorted.
func withParams(base []string, extra ...string) []string {
	out := append(slices.Clone(base), extra...)
	sort.Strings(out)
	return out
}

func TestOperations(t *testing.T) {
	s := newTestService(t)
	tests := []struct {
		name       string
		doc        string // v3 document key
		path       string
		method     string
		wantID     string
		wantAction string
		wantGVK    schema.GroupVersionKind
		wantParams []string
		// wantBody is the request body's schema reference, if any.
		wantBody string
		// wantResponse is the 200 response's schema reference or type.
		wantResponse string
	}{
		{
			name: "patch namespaced deployment", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", method: "PATCH",
			wantID: "patchAppsV1NamespacedDeployment", wantAction: "patch", wantGVK: deploymentGVK,
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "force", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.Deployment",
		},
		{
			name: "list namespaced deployments", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments", method: "GET",
			wantID: "listAppsV1NamespacedDeployment", wantAction: "list", wantGVK: deploymentGVK,
			wantParams:   withParams(listParams, "namespace"),
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.DeploymentList",
		},
		{
			name: "list deployments in all namespaces", doc: "apis/apps/v1",
			path: "/apis/apps/v1/deployments", method: "GET",
			wantID: "listAppsV1DeploymentForAllNamespaces", wantAction: "list", wantGVK: deploymentGVK,
			wantParams:   listParams,
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.DeploymentList",
		},
		{
			name: "watch deployment list", doc: "apis/apps/v1",
			path: "/apis/apps/v1/watch/namespaces/{namespace}/deployments", method: "GET",
			wantID: "watchAppsV1NamespacedDeploymentList", wantAction: "watchlist", wantGVK: deploymentGVK,
			wantParams:   withParams(listParams, "namespace"),
			wantResponse: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
		},
		{
			name: "watch one deployment", doc: "apis/apps/v1",
			path: "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", method: "GET",
			wantID: "watchAppsV1NamespacedDeployment", wantAction: "watch", wantGVK: deploymentGVK,
			wantParams:   withParams(listParams, "name", "namespace"),
			wantResponse: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
		},
		{
			name: "create deployment", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments", method: "POST",
			wantID: "createAppsV1NamespacedDeployment", wantAction: "post", wantGVK: deploymentGVK,
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.api.apps.v1.Deployment",
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.Deployment",
		},
		{
			name: "replace deployment", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", method: "PUT",
			wantID: "replaceAppsV1NamespacedDeployment", wantAction: "put", wantGVK: deploymentGVK,
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.api.apps.v1.Deployment",
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.Deployment",
		},
		{
			name: "delete deployment", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", method: "DELETE",
			wantID: "deleteAppsV1NamespacedDeployment", wantAction: "delete", wantGVK: deploymentGVK,
			wantParams: []string{"dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
				"name", "namespace", "orphanDependents", "pretty", "propagationPolicy"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
			wantResponse: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status",
		},
		{
			name: "delete collection of deployments", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments", method: "DELETE",
			wantID: "deleteAppsV1CollectionNamespacedDeployment", wantAction: "deletecollection", wantGVK: deploymentGVK,
			wantParams: []string{"continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
				"ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector", "limit", "namespace",
				"orphanDependents", "pretty", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
				"sendInitialEvents", "timeoutSeconds"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
			wantResponse: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status",
		},
		{
			name: "patch deployment scale", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", method: "PATCH",
			wantID: "patchAppsV1NamespacedDeploymentScale", wantAction: "patch",
			wantGVK:      schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "force", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
			wantResponse: "#/components/schemas/io.k8s.api.autoscaling.v1.Scale",
		},
		{
			name: "read deployment status", doc: "apis/apps/v1",
			path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", method: "GET",
			wantID: "readAppsV1NamespacedDeploymentStatus", wantAction: "get", wantGVK: deploymentGVK,
			wantParams:   []string{"name", "namespace", "pretty"},
			wantResponse: "#/components/schemas/io.k8s.api.apps.v1.Deployment",
		},
		{
			name: "read pod log", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/pods/{name}/log", method: "GET",
			wantID: "readCoreV1NamespacedPodLog", wantAction: "get", wantGVK: podGVK,
			wantParams: []string{"container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "name",
				"namespace", "pretty", "previous", "sinceSeconds", "sinceTime", "stream", "tailLines", "timestamps"},
			wantResponse: "string",
		},
		{
			name: "connect GET pod exec", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/pods/{name}/exec", method: "GET",
			wantID: "connectCoreV1GetNamespacedPodExec", wantAction: "connect",
			wantGVK:      schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"},
			wantParams:   []string{"command", "container", "name", "namespace", "stderr", "stdin", "stdout", "tty"},
			wantResponse: "string",
		},
		{
			name: "connect POST pod portforward", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/pods/{name}/portforward", method: "POST",
			wantID: "connectCoreV1PostNamespacedPodPortforward", wantAction: "connect",
			wantGVK:      schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"},
			wantParams:   []string{"name", "namespace", "ports"},
			wantResponse: "string",
		},
		{
			name: "create pod binding", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/pods/{name}/binding", method: "POST",
			wantID: "createCoreV1NamespacedPodBinding", wantAction: "post",
			wantGVK:      schema.GroupVersionKind{Version: "v1", Kind: "Binding"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.api.core.v1.Binding",
			wantResponse: "#/components/schemas/io.k8s.api.core.v1.Binding",
		},
		{
			name: "create pod eviction", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/pods/{name}/eviction", method: "POST",
			wantID: "createCoreV1NamespacedPodEviction", wantAction: "post",
			wantGVK:      schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.api.policy.v1.Eviction",
			wantResponse: "#/components/schemas/io.k8s.api.policy.v1.Eviction",
		},
		{
			name: "patch cluster-scoped node", doc: "api/v1",
			path: "/api/v1/nodes/{name}", method: "PATCH",
			wantID: "patchCoreV1Node", wantAction: "patch", wantGVK: schema.GroupVersionKind{Version: "v1", Kind: "Node"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "force", "name", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
			wantResponse: "#/components/schemas/io.k8s.api.core.v1.Node",
		},
		{
			name: "patch namespace status", doc: "api/v1",
			path: "/api/v1/namespaces/{name}/status", method: "PATCH",
			wantID: "patchCoreV1NamespaceStatus", wantAction: "patch", wantGVK: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "force", "name", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
			wantResponse: "#/components/schemas/io.k8s.api.core.v1.Namespace",
		},
		{
			name: "create configmap", doc: "api/v1",
			path: "/api/v1/namespaces/{namespace}/configmaps", method: "POST",
			wantID: "createCoreV1NamespacedConfigMap", wantAction: "post", wantGVK: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.api.core.v1.ConfigMap",
			wantResponse: "#/components/schemas/io.k8s.api.core.v1.ConfigMap",
		},
		{
			name: "patch job", doc: "apis/batch/v1",
			path: "/apis/batch/v1/namespaces/{namespace}/jobs/{name}", method: "PATCH",
			wantID: "patchBatchV1NamespacedJob", wantAction: "patch", wantGVK: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"},
			wantParams:   []string{"dryRun", "fieldManager", "fieldValidation", "force", "name", "namespace", "pretty"},
			wantBody:     "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
			wantResponse: "#/components/schemas/io.k8s.api.batch.v1.Job",
		},
		{
			name: "group version resource list", doc: "apis/apps/v1",
			path: "/apis/apps/v1/", method: "GET",
			wantID:       "getAppsV1APIResources",
			wantResponse: "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, ok := s.v3[tt.doc]
			if !ok {
				t.Fatalf("no v3 document %q", tt.doc)
			}
			op, pathParams := v3Operation(t, doc, tt.path, tt.method)
			if op.OperationId != tt.wantID {
				t.Errorf("%s %s operationId = %q; want %q", tt.method, tt.path, op.OperationId, tt.wantID)
			}
			if got, _ := op.Extensions[extensionAction].(string); got != tt.wantAction {
				t.Errorf("%s %s x-kubernetes-action = %q; want %q", tt.method, tt.path, got, tt.wantAction)
			}
			if got := gvkExtension(t, op.Extensions); got != tt.wantGVK {
				t.Errorf("%s %s x-kubernetes-group-version-kind = %v; want %v", tt.method, tt.path, got, tt.wantGVK)
			}
			if diff := cmp.Diff(tt.wantParams, v3ParamNames(op, pathParams)); diff != "" {
				t.Errorf("%s %s parameters (-want +got):\n%s", tt.method, tt.path, diff)
			}
			var body string
			if op.RequestBody != nil {
				for _, media := range op.RequestBody.Content {
					body = media.Schema.Ref.String()
				}
			}
			if body != tt.wantBody {
				t.Errorf("%s %s request body = %q; want %q", tt.method, tt.path, body, tt.wantBody)
			}
			var got string
			if resp := op.Responses.StatusCodeResponses[200]; resp != nil {
				for _, media := range resp.Content {
					if got = media.Schema.Ref.String(); got == "" && len(media.Schema.Type) == 1 {
						got = media.Schema.Type[0]
					}
				}
			}
			if got != tt.wantResponse {
				t.Errorf("%s %s 200 response = %q; want %q", tt.method, tt.path, got, tt.wantResponse)
			}

			// The v2 document has the same operation.
			v2op, _ := v2Operation(t, s.v2, tt.path, tt.method)
			if v2op.ID != tt.wantID {
				t.Errorf("v2 %s %s operationId = %q; want %q", tt.method, tt.path, v2op.ID, tt.wantID)
			}
		})
	}
}

// TestPatchOperations checks what kubectl's query-parameter verifier needs of
// every PATCH operation, in both documents: the group-version-kind, the
// fieldValidation parameter and the four patch content types.
func TestPatchOperations(t *testing.T) {
	s := newTestService(t)
	wantTypes := []string{"application/apply-patch+yaml", "application/json-patch+json",
		"application/merge-patch+json", "application/strategic-merge-patch+json"}
	var count int
	for key, doc := range s.v3 {
		for path, item := range doc.Paths.Paths {
			if item.Patch == nil {
				continue
			}
			count++
			t.Run("v3 "+key+" "+path, func(t *testing.T) {
				op := item.Patch
				if gvk := gvkExtension(t, op.Extensions); gvk.Kind == "" {
					t.Errorf("PATCH %s has no x-kubernetes-group-version-kind", path)
				}
				if !slices.Contains(v3ParamNames(op, item.Parameters), "fieldValidation") {
					t.Errorf("PATCH %s has no fieldValidation parameter", path)
				}
				var types []string
				for ct := range op.RequestBody.Content {
					types = append(types, ct)
				}
				sort.Strings(types)
				if diff := cmp.Diff(wantTypes, types); diff != "" {
					t.Errorf("PATCH %s content types (-want +got):\n%s", path, diff)
				}
			})
		}
	}
	for path, item := range s.v2.Paths.Paths {
		if item.Patch == nil {
			continue
		}
		count--
		t.Run("v2 "+path, func(t *testing.T) {
			op := item.Patch
			if gvk := gvkExtension(t, op.Extensions); gvk.Kind == "" {
				t.Errorf("PATCH %s has no x-kubernetes-group-version-kind", path)
			}
			var hasFieldValidation bool
			for _, p := range op.Parameters {
				// Parameters shared between operations are references into
				// the document's parameters section.
				if p.Ref.String() != "" {
					name := p.Ref.String()[len("#/parameters/"):]
					p = s.v2.Parameters[name]
				}
				hasFieldValidation = hasFieldValidation || p.Name == "fieldValidation"
			}
			if !hasFieldValidation {
				t.Errorf("PATCH %s has no fieldValidation parameter", path)
			}
			types := slices.Sorted(slices.Values(op.Consumes))
			if diff := cmp.Diff(wantTypes, types); diff != "" {
				t.Errorf("PATCH %s consumes (-want +got):\n%s", path, diff)
			}
		})
	}
	if count != 0 {
		t.Errorf("the v3 documents have %d more PATCH operations than the v2 document", count)
	}
}

func TestGVPaths(t *testing.T) {
	tests := []struct {
		name string
		gv   schema.GroupVersion
		want gvPaths
	}{
		{
			name: "core",
			gv:   schema.GroupVersion{Version: "v1"},
			want: gvPaths{prefix: "/api/v1", opInfix: "CoreV1", tag: "core_v1", v3Key: "api/v1"},
		},
		{
			name: "apps",
			gv:   schema.GroupVersion{Group: "apps", Version: "v1"},
			want: gvPaths{prefix: "/apis/apps/v1", opInfix: "AppsV1", tag: "apps_v1", v3Key: "apis/apps/v1"},
		},
		{
			name: "dotted group with k8s.io suffix",
			gv:   schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"},
			want: gvPaths{prefix: "/apis/rbac.authorization.k8s.io/v1", opInfix: "RbacAuthorizationV1", tag: "rbacAuthorization_v1", v3Key: "apis/rbac.authorization.k8s.io/v1"},
		},
		{
			name: "beta version",
			gv:   schema.GroupVersion{Group: "coordination.k8s.io", Version: "v1beta1"},
			want: gvPaths{prefix: "/apis/coordination.k8s.io/v1beta1", opInfix: "CoordinationV1beta1", tag: "coordination_v1beta1", v3Key: "apis/coordination.k8s.io/v1beta1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newGVPaths(tt.gv); got != tt.want {
				t.Errorf("newGVPaths(%v) = %+v; want %+v", tt.gv, got, tt.want)
			}
		})
	}
}

func TestWithArticle(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "consonant", in: "Deployment", want: "a Deployment"},
		{name: "vowel", in: "Eviction", want: "an Eviction"},
		{name: "plural", in: "Endpoints", want: "Endpoints"},
		{name: "double s", in: "StorageClass", want: "a StorageClass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withArticle(tt.in); got != tt.want {
				t.Errorf("withArticle(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	deployment := func(mutate func(*Resource)) []Resource {
		r := Resource{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespaced: true, Verbs: []string{VerbGet}}
		mutate(&r)
		return []Resource{r}
	}
	pod := func(subs ...Subresource) []Resource {
		return []Resource{{Version: "v1", Kind: "Pod", Resource: "pods", Namespaced: true, Verbs: []string{VerbGet}, Subresources: subs}}
	}
	tests := []struct {
		name      string
		resources []Resource
		want      error
	}{
		{name: "missing kind", resources: deployment(func(r *Resource) { r.Kind = "" }), want: ErrInvalidResource},
		{name: "missing resource name", resources: deployment(func(r *Resource) { r.Resource = "" }), want: ErrInvalidResource},
		{name: "resource name with a slash", resources: deployment(func(r *Resource) { r.Resource = "deployments/scale" }), want: ErrInvalidResource},
		{name: "no verbs", resources: deployment(func(r *Resource) { r.Verbs = nil }), want: ErrInvalidResource},
		{name: "unknown verb", resources: deployment(func(r *Resource) { r.Verbs = []string{"proxy"} }), want: ErrInvalidResource},
		{name: "repeated verb", resources: deployment(func(r *Resource) { r.Verbs = []string{VerbGet, VerbGet} }), want: ErrInvalidResource},
		{
			name:      "listed twice",
			resources: append(deployment(func(*Resource) {}), deployment(func(*Resource) {})...),
			want:      ErrInvalidResource,
		},
		{
			name:      "list verb on a subresource",
			resources: deployment(func(r *Resource) { r.Subresources = []Subresource{{Name: "status", Verbs: []string{VerbList}}} }),
			want:      ErrInvalidResource,
		},
		{
			name: "duplicate subresource",
			resources: deployment(func(r *Resource) {
				r.Subresources = []Subresource{{Name: "status", Verbs: []string{VerbGet}}, {Name: "status", Verbs: []string{VerbGet}}}
			}),
			want: ErrInvalidResource,
		},
		{
			name: "subresource group without kind",
			resources: deployment(func(r *Resource) {
				r.Subresources = []Subresource{{Name: "scale", Group: "autoscaling", Verbs: []string{VerbGet}}}
			}),
			want: ErrInvalidResource,
		},
		{
			name:      "kindless log on a deployment",
			resources: deployment(func(r *Resource) { r.Subresources = []Subresource{{Name: "log", Verbs: []string{VerbGet}}} }),
			want:      ErrInvalidResource,
		},
		{name: "pod log with a kind", resources: pod(Subresource{Name: "log", Version: "v1", Kind: "Pod", Verbs: []string{VerbGet}}), want: ErrInvalidResource},
		{name: "pod exec with update", resources: pod(Subresource{Name: "exec", Verbs: []string{VerbUpdate}}), want: ErrInvalidResource},
		{name: "kind outside the served groups", resources: deployment(func(r *Resource) { r.Group = "example.com" }), want: ErrUnknownKind},
		{name: "unknown kind", resources: deployment(func(r *Resource) { r.Kind = "Deploymnet" }), want: ErrUnknownKind},
		{name: "unknown list kind", resources: deployment(func(r *Resource) { r.Verbs = []string{VerbList}; r.ListKind = "DeploymentSet" }), want: ErrUnknownKind},
		{
			name: "unknown subresource kind",
			resources: deployment(func(r *Resource) {
				r.Subresources = []Subresource{{Name: "scale", Group: "autoscaling", Version: "v2", Kind: "Scale", Verbs: []string{VerbGet}}}
			}),
			want: ErrUnknownKind,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.resources); !errors.Is(err, tt.want) {
				t.Errorf("New(%+v) = %v; want %v", tt.resources, err, tt.want)
			}
		})
	}
}

func TestNewDefaultsListKindAndStatusKind(t *testing.T) {
	s, err := New([]Resource{{
		Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", Namespaced: true,
		Verbs:        []string{VerbList, VerbPatch},
		Subresources: []Subresource{{Name: "status", Verbs: []string{VerbPatch}}},
	}})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	doc := s.v3["apis/apps/v1"]
	op, _ := v3Operation(t, doc, "/apis/apps/v1/namespaces/{namespace}/replicasets", "GET")
	if got, want := op.Responses.StatusCodeResponses[200].Content["application/json"].Schema.Ref.String(), "#/components/schemas/io.k8s.api.apps.v1.ReplicaSetList"; got != want {
		t.Errorf("list response = %q; want %q", got, want)
	}
	op, _ = v3Operation(t, doc, "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status", "PATCH")
	if got, want := gvkExtension(t, op.Extensions), (schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}); got != want {
		t.Errorf("status PATCH group-version-kind = %v; want %v", got, want)
	}
}

func TestNewEmpty(t *testing.T) {
	s, err := New(nil)
	if err != nil {
		t.Fatalf("New(nil) = %v", err)
	}
	if len(s.v3) != 0 || len(s.v2.Paths.Paths) != 0 {
		t.Errorf("New(nil) has %d v3 documents and %d v2 paths; want none", len(s.v3), len(s.v2.Paths.Paths))
	}
}

func BenchmarkNew(b *testing.B) {
	resources := testResources()
	for b.Loop() {
		if _, err := New(resources); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModels(b *testing.B) {
	for b.Loop() {
		if _, err := Models(); err != nil {
			b.Fatal(err)
		}
	}
}
