package patch

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// The bodies follow the reference apiserver's field validation integration test: unknown
// fields, duplicate unknown fields and duplicate known fields, at the top and nested.
const (
	strictMergeBody = `{"spec":{"unknown1":"val1","unknownDupe":"valDupe","unknownDupe":"valDupe2","paused":true,"paused":false,` +
		`"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:latest","unknownNested":"val1","imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}`
	strictSMPBody = `{"spec":{"unknown1":"val1","unknownDupe":"valDupe","unknownDupe":"valDupe2","paused":true,"paused":false,` +
		`"template":{"spec":{"containers":[{"name":"nginx","unknownNested":"val1","imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}`
	strictJSONPatchBody = `[{"op":"add","path":"/spec/unknown1","value":"val1","foo":"bar"},` +
		`{"op":"add","path":"/spec/unknown2","path":"/spec/unknown3","value":"val1"},` +
		`{"op":"add","path":"/spec/unknownDupe","value":"valDupe"},{"op":"add","path":"/spec/unknownDupe","value":"valDupe2"},` +
		`{"op":"add","path":"/spec/paused","value":true},{"op":"add","path":"/spec/paused","value":false},` +
		`{"op":"add","path":"/spec/template/spec/containers/0/unknownNested","value":"val1"},` +
		`{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Always"},` +
		`{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]`
	strictApplyBody = `{
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {"name": "web", "labels": {"app": "web"}},
		"spec": {
			"paused": false,
			"paused": true,
			"selector": {"matchLabels": {"app": "web"}},
			"template": {
				"metadata": {"labels": {"app": "web"}},
				"spec": {
					"containers": [{
						"name": "nginx",
						"image": "nginx:latest",
						"imagePullPolicy": "Never",
						"imagePullPolicy": "Always"
					}]
				}
			}
		}
	}`
)

func TestFieldValidation(t *testing.T) {
	mergeFindings := []string{
		`duplicate field "spec.unknownDupe"`,
		`duplicate field "spec.paused"`,
		`duplicate field "spec.template.spec.containers[0].imagePullPolicy"`,
		`unknown field "spec.template.spec.containers[0].unknownNested"`,
		`unknown field "spec.unknown1"`,
		`unknown field "spec.unknownDupe"`,
	}
	jsonPatchFindings := []string{
		`json patch unknown field "[0].foo"`,
		`json patch duplicate field "[1].path"`,
		`unknown field "spec.template.spec.containers[0].unknownNested"`,
		`unknown field "spec.unknown1"`,
		`unknown field "spec.unknown3"`,
		`unknown field "spec.unknownDupe"`,
	}
	applyFindings := []string{
		`line 7: key "paused" already set in map`,
		`line 16: key "imagePullPolicy" already set in map`,
	}
	tests := []struct {
		name         string
		pt           types.PatchType
		body         string
		directive    string
		wantWarnings []string
		wantCode     int32    // of the Strict error
		wantErrParts []string // substrings of the Strict error
	}{
		{name: "merge Strict", pt: types.MergePatchType, body: strictMergeBody, directive: "Strict", wantCode: 422, wantErrParts: mergeFindings},
		{name: "merge Warn", pt: types.MergePatchType, body: strictMergeBody, directive: "Warn", wantWarnings: mergeFindings},
		{name: "merge default is Warn", pt: types.MergePatchType, body: strictMergeBody, wantWarnings: mergeFindings},
		{name: "merge Ignore", pt: types.MergePatchType, body: strictMergeBody, directive: "Ignore"},
		{name: "strategic Strict", pt: types.StrategicMergePatchType, body: strictSMPBody, directive: "Strict", wantCode: 422, wantErrParts: mergeFindings},
		{name: "strategic Warn", pt: types.StrategicMergePatchType, body: strictSMPBody, directive: "Warn", wantWarnings: mergeFindings},
		{name: "strategic Ignore", pt: types.StrategicMergePatchType, body: strictSMPBody, directive: "Ignore"},
		{name: "json Strict", pt: types.JSONPatchType, body: strictJSONPatchBody, directive: "Strict", wantCode: 422, wantErrParts: jsonPatchFindings},
		{name: "json Warn", pt: types.JSONPatchType, body: strictJSONPatchBody, directive: "Warn", wantWarnings: jsonPatchFindings},
		{name: "json Ignore", pt: types.JSONPatchType, body: strictJSONPatchBody, directive: "Ignore"},
		{name: "apply Strict", pt: types.ApplyYAMLPatchType, body: strictApplyBody, directive: "Strict", wantCode: 400, wantErrParts: applyFindings},
		{name: "apply Warn", pt: types.ApplyYAMLPatchType, body: strictApplyBody, directive: "Warn", wantWarnings: applyFindings},
		{name: "apply Ignore", pt: types.ApplyYAMLPatchType, body: strictApplyBody, directive: "Ignore"},
		{
			name: "strategic Strict, one unknown field", pt: types.StrategicMergePatchType, body: `{"spec":{"foo":1}}`, directive: "Strict",
			wantCode: 422, wantErrParts: []string{` "" is invalid: patch: Invalid value: "map[spec:map[foo:1]]": strict decoding error: unknown field "spec.foo"`},
		},
	}
	m := newTestManager(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var live runtime.Object = created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
			if tt.pt == types.ApplyYAMLPatchType {
				live = nil // the apply creates
			}
			opts := Options{FieldManager: "ctl", FieldValidation: tt.directive, Resource: deployments, Name: "web", Namespace: "default"}
			res, err := m.Patch(live, deploymentGVK, tt.pt, []byte(tt.body), opts)
			if tt.wantCode != 0 {
				if err == nil {
					t.Fatalf("Patch(%s, Strict) = nil error; want %d", tt.pt, tt.wantCode)
				}
				st := statusOf(t, err)
				if st.Code != tt.wantCode {
					t.Errorf("Patch(%s, Strict) = %d %q; want %d", tt.pt, st.Code, st.Message, tt.wantCode)
				}
				for _, part := range tt.wantErrParts {
					if !strings.Contains(st.Message, part) {
						t.Errorf("Patch(%s, Strict) = ...%q; want it to contain %q", tt.pt, st.Message[max(0, len(st.Message)-400):], part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Patch(%s, %q) = %v", tt.pt, tt.directive, err)
			}
			if d := diff(res.Warnings, tt.wantWarnings); d != "" {
				t.Errorf("Patch(%s, %q) warnings (-want +got):\n%s", tt.pt, tt.directive, d)
			}
			want := corev1.PullNever // the last of the duplicates wins
			if tt.pt == types.ApplyYAMLPatchType {
				want = corev1.PullAlways
			}
			if c := res.Object.(*appsv1.Deployment).Spec.Template.Spec.Containers[0]; c.ImagePullPolicy != want {
				t.Errorf("imagePullPolicy = %q; want the last duplicate, %q", c.ImagePullPolicy, want)
			}
		})
	}
}
