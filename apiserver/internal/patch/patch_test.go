package patch

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

func TestPatchErrors(t *testing.T) {
	live := created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
	opts := func(mod func(*Options)) Options {
		o := Options{FieldManager: "ctl", Resource: deployments, Name: "web", Namespace: "default"}
		if mod != nil {
			mod(&o)
		}
		return o
	}
	manyOps := "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Deployment"},`, maxJSONPatchOperations) +
		`{"op":"test","path":"/kind","value":"Deployment"}]`
	const invalidPatch = "the server rejected our request due to an error in our request"
	var copies []string // each copy doubles spec: far beyond MaxJSONPatchCopyBytes
	for i := 0; i < 30; i++ {
		copies = append(copies, fmt.Sprintf(`{"op":"copy","from":"/spec","path":"/spec/c%d"}`, i))
	}
	copyBomb := "[" + strings.Join(copies, ",") + "]"

	tests := []struct {
		name       string
		live       runtime.Object
		gvk        schema.GroupVersionKind
		pt         types.PatchType
		patch      string
		opts       Options
		wantCode   int32
		wantReason metav1.StatusReason
		wantMsg    string // exact message, or a prefix when it ends with "..."
		wantIs     error
	}{
		{
			name: "unknown patch type", live: live, pt: "application/xml", patch: `<x/>`, opts: opts(nil),
			wantCode: 415, wantReason: metav1.StatusReasonUnsupportedMediaType,
			wantMsg: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml",
		},
		{
			name: "merge patch of a missing object", pt: types.MergePatchType, patch: `{}`, opts: opts(nil),
			wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMsg: `deployments.apps "web" not found`,
		},
		{
			name: "json patch of a missing object", pt: types.JSONPatchType, patch: `[]`, opts: opts(nil),
			wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMsg: `deployments.apps "web" not found`,
		},
		{
			name: "strategic merge patch of a missing object", pt: types.StrategicMergePatchType, patch: `{}`, opts: opts(nil),
			wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMsg: `deployments.apps "web" not found`,
		},
		{
			name: "apply to the status of a missing object", pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n", opts: opts(func(o *Options) { o.Subresource = "status" }),
			wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMsg: `deployments.apps "web" not found`,
		},
		{
			name: "malformed json patch", live: live, pt: types.JSONPatchType, patch: `[{"op":`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "error decoding patch: unexpected end of JSON input",
		},
		{
			name: "malformed json patch, fieldValidation Ignore", live: live, pt: types.JSONPatchType, patch: `{"op":"add"}`,
			opts:     opts(func(o *Options) { o.FieldValidation = "Ignore" }),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
		},
		{
			name: "malformed merge patch", live: live, pt: types.MergePatchType, patch: `{"spec":`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "error decoding patch: unexpected end of JSON input",
		},
		{
			name: "merge patch that is not an object", live: live, pt: types.MergePatchType, patch: `42`,
			opts:     opts(func(o *Options) { o.FieldValidation = "Ignore" }),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "Invalid JSON Patch",
		},
		{
			name: "malformed strategic merge patch", live: live, pt: types.StrategicMergePatchType, patch: `{"spec":}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid character '}' looking for beginning of value",
		},
		{
			name: "malformed apply patch", live: live, pt: types.ApplyYAMLPatchType, patch: "kind: [", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "error decoding YAML: error converting YAML to JSON: yaml: line 1: did not find expected node content",
		},
		{
			name: "json patch removing a missing path", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"remove","path":"/spec/paused"}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "json patch replacing below a missing path", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"replace","path":"/spec/nope/x","value":1}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "failed json patch test", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"test","path":"/spec/replicas","value":4},{"op":"replace","path":"/spec/replicas","value":5}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "json patch replacing the document with nothing", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"replace","path":""}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "json patch testing against null in an array", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"test","path":"/spec/template/spec/containers","value":[null]}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "json patch copying beyond the copy limit", live: live, pt: types.JSONPatchType, patch: copyBomb, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: invalidPatch,
		},
		{
			name: "json patch with too many operations", live: live, pt: types.JSONPatchType, patch: manyOps, opts: opts(nil),
			wantCode: 413, wantReason: metav1.StatusReasonRequestEntityTooLarge,
			wantMsg: "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
		},
		{
			name: "merge patch renaming the object", live: live, pt: types.MergePatchType, patch: `{"metadata":{"name":"other"}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "the name of the object (other) does not match the name on the URL (web)",
		},
		{
			name: "json patch renaming the object", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"replace","path":"/metadata/name","value":"other"}]`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "the name of the object (other) does not match the name on the URL (web)",
		},
		{
			name: "strategic merge patch moving the namespace", live: live, pt: types.StrategicMergePatchType,
			patch: `{"metadata":{"namespace":"kube-system"}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMsg: "the namespace of the provided object does not match the namespace sent on the request",
		},
		{
			name: "merge patch changing the kind", live: live, pt: types.MergePatchType, patch: `{"apiVersion":"v1","kind":"Pod"}`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMsg: ` "" is invalid: patch: Invalid value: "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",...`,
		},
		{
			name: "json patch changing the apiVersion", live: live, pt: types.JSONPatchType,
			patch: `[{"op":"replace","path":"/apiVersion","value":"example.com/v9"}]`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: ` "" is invalid: patch: Invalid value: "{\"apiVersion\":\"example.com/v9\",\"kind\":\"Deployment\",...`,
		},
		{
			name: "merge patch with a value of the wrong type", live: live, pt: types.MergePatchType, patch: `{"spec":{"replicas":"three"}}`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: ` "" is invalid: patch: Invalid value: "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",...`,
		},
		{
			name: "strategic merge patch with a value of the wrong type", live: live, pt: types.StrategicMergePatchType, patch: `{"spec":{"replicas":"three"}}`, opts: opts(nil),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantMsg: ` "" is invalid: patch: Invalid value: "map[spec:map[replicas:three]]": unrecognized type: int32`,
		},
		{
			name: "strategic merge patch with an unknown $patch", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"template":{"spec":{"containers":[{"$patch":"explode","name":"nginx"}]}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "unknown patch type: explode in map: map[$patch:explode name:nginx]",
		},
		{
			name: "strategic merge patch with a malformed $setElementOrder", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"template":{"spec":{"$setElementOrder/containers":"nginx"}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "expected a []interface {}, but received a string",
		},
		{
			name: "strategic merge patch contradicting $retainKeys", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{"maxSurge":1}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid patch format of retainKeys",
		},
		{
			name: "strategic merge patch with an unhashable $retainKeys entry", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"strategy":{"$retainKeys":[{}],"type":"Recreate"}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid patch format of retainKeys",
		},
		{
			name: "strategic merge patch with an object as merge key", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"template":{"spec":{"containers":[{"name":{},"image":"x"}]}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "merge key name of the elements of containers must be a scalar",
		},
		{
			name: "strategic merge patch with an object in $setElementOrder", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":[]}]}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid patch format of setElementOrder list",
		},
		{
			name: "strategic merge patch deleting an object from a primitive list", live: live, pt: types.StrategicMergePatchType,
			patch: `{"metadata":{"$deleteFromPrimitiveList/finalizers":[{}]}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid patch format of primitive list",
		},
		{
			name: "strategic merge patch with null in a merged list", live: live, pt: types.StrategicMergePatchType,
			patch: `{"spec":{"template":{"spec":{"containers":[null]}}}}`, opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "list containers must not contain null",
		},
		{
			name: "apply of another kind", live: live, pt: types.ApplyYAMLPatchType, patch: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid object type: /v1, Kind=Pod",
		},
		{
			name: "apply without apiVersion", live: live, pt: types.ApplyYAMLPatchType, patch: "kind: Deployment\n", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "invalid object type: /, Kind=Deployment",
		},
		{
			name: "apply with an unknown field", live: live, pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  foo: 1\n", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMsg: "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema",
		},
		{
			name: "apply with duplicate list keys", live: live, pt: types.ApplyYAMLPatchType,
			patch: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"a"}]}}}}`,
			opts:  opts(nil), wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMsg: "failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"a\"]",
		},
		{
			name: "apply with a fractional replica count", live: live, pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2.5\n", opts: opts(func(o *Options) { o.Force = true }),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMsg: "failed to convert new object (/web; apps/v1, Kind=Deployment) to proper version (apps/v1): cannot convert float64 to int32",
		},
		{
			name: "apply setting managedFields", live: live, pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  managedFields: []\n", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "metadata.managedFields must be nil",
		},
		{
			name: "apply creating with a uid", pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  uid: \"1234\"\n", opts: opts(nil),
			wantCode: 409, wantReason: metav1.StatusReasonConflict,
			wantMsg: `Operation cannot be fulfilled on deployments.apps "web": uid mismatch: the provided object specified uid 1234, and no existing object was found`,
		},
		{
			name: "apply creating under another name", pt: types.ApplyYAMLPatchType,
			patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n", opts: opts(nil),
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMsg: "the name of the object (other) does not match the name on the URL (web)",
		},
		{
			name: "apply without field manager", live: live, pt: types.ApplyYAMLPatchType, patch: "{}",
			opts:     opts(func(o *Options) { o.FieldManager = "" }),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMsg: `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
		},
		{
			name: "force on a merge patch", live: live, pt: types.MergePatchType, patch: "{}",
			opts:     opts(func(o *Options) { o.Force = true }),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMsg: `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch`,
		},
		{
			name: "unsupported fieldValidation", live: live, pt: types.MergePatchType, patch: "{}",
			opts:     opts(func(o *Options) { o.FieldValidation = "strict" }),
			wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMsg: `PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"`,
		},
		{
			name: "live of another kind", live: newPod(), pt: types.MergePatchType, patch: "{}", opts: opts(nil), wantIs: ErrWrongType,
		},
		{
			name: "unknown kind", live: live, gvk: schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"},
			pt: types.MergePatchType, patch: "{}", opts: opts(nil), wantIs: ErrUnknownKind,
		},
	}
	m := newTestManager(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gvk := tt.gvk
			if gvk.Empty() {
				gvk = deploymentGVK
			}
			res, err := m.Patch(tt.live, gvk, tt.pt, []byte(tt.patch), tt.opts)
			if err == nil {
				t.Fatalf("Patch(%s, %.60s) = %v; want an error", tt.pt, tt.patch, res.Object)
			}
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Errorf("Patch(%s, %.60s) = %v; want %v", tt.pt, tt.patch, err, tt.wantIs)
				}
				return
			}
			st := statusOf(t, err)
			msgOK := st.Message == tt.wantMsg
			if prefix, ok := strings.CutSuffix(tt.wantMsg, "..."); ok {
				msgOK = strings.HasPrefix(st.Message, prefix)
			}
			if st.Code != tt.wantCode || st.Reason != tt.wantReason || !msgOK {
				t.Errorf("Patch(%s, %.60s) = %d %s %q; want %d %s %q", tt.pt, tt.patch, st.Code, st.Reason, st.Message, tt.wantCode, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestPatchTypeParameters(t *testing.T) {
	live := created(t, newPod(), podGVK, "kubectl-run")
	res := mustPatch(t, live, podGVK, "application/merge-patch+json; charset=utf-8", `{"metadata":{"labels":{"a":"b"}}}`,
		Options{FieldManager: "kubectl-label", Resource: pods, Name: "web-0", Namespace: "default"})
	if got := res.Object.(metav1.Object).GetLabels()["a"]; got != "b" {
		t.Errorf("label a = %q; want b", got)
	}
}

func TestPatchClusterScoped(t *testing.T) {
	// A patch that sets a namespace on a cluster-scoped object loses it, as in the reference.
	res := mustPatch(t, nil, schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
		types.ApplyYAMLPatchType, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n  namespace: default\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n",
		Options{FieldManager: "kubectl", Resource: schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, Name: "reader"})
	if ns := res.Object.(metav1.Object).GetNamespace(); ns != "" || !res.Created {
		t.Errorf("Patch(apply ClusterRole) namespace = %q, created = %v; want \"\", true", ns, res.Created)
	}
	if got, want := res.Object.GetObjectKind().GroupVersionKind().Kind, "ClusterRole"; got != want {
		t.Errorf("kind = %q; want %q", got, want)
	}
	_ = http.StatusOK
}
