package patch

import (
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
)

// applyYAML is the manifest kubectl apply --server-side sends, as YAML.
const applyYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
`

// applyJSON returns deploymentConfig (as kubectl sends it: JSON, which is valid YAML) with
// the replacements old->new applied pairwise.
func applyJSON(replacements ...string) string {
	return strings.NewReplacer(replacements...).Replace(deploymentConfig)
}

var applyOpts = Options{FieldManager: "kubectl", Resource: deployments, Name: "web", Namespace: "default"}

// appliedDeployment returns the Deployment as stored after kubectl apply --server-side
// created it: the registry assigned uid, resourceVersion and creationTimestamp.
func appliedDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	res := mustPatch(t, nil, deploymentGVK, types.ApplyYAMLPatchType, applyYAML, applyOpts)
	d := res.Object.(*appsv1.Deployment)
	d.UID, d.ResourceVersion, d.CreationTimestamp = "0b3c5e1a-0000-4000-8000-000000000003", "11", metav1.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return d
}

// scaleViaSubresource runs kubectl scale --replicas on d through the scale subresource, the
// way the registry's scale endpoint does: Deployment -> Scale (with converted managedFields)
// -> merge patch -> Deployment.
func scaleViaSubresource(t *testing.T, d *appsv1.Deployment, replicas string) *appsv1.Deployment {
	t.Helper()
	scaleFields, err := ScaleManagedFields(d.ManagedFields, appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatalf("ScaleManagedFields() = %v", err)
	}
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion,
			CreationTimestamp: d.CreationTimestamp, ManagedFields: scaleFields},
		Spec:   autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: d.Status.Replicas, Selector: "app=web"},
	}
	res := mustPatch(t, scale, scaleGVK, types.MergePatchType, `{"spec":{"replicas":`+replicas+`}}`, Options{
		FieldManager: "kubectl-scale", Subresource: "scale",
		Resource: schema.GroupResource{Group: "apps", Resource: "deployments/scale"}, Name: d.Name, Namespace: d.Namespace,
	})
	newScale := res.Object.(*autoscalingv1.Scale)
	out := d.DeepCopy()
	out.Spec.Replicas = &newScale.Spec.Replicas
	if out.ManagedFields, err = ParentManagedFields(d.ManagedFields, newScale.ManagedFields, appsv1.SchemeGroupVersion); err != nil {
		t.Fatalf("ParentManagedFields() = %v", err)
	}
	return out
}

func TestApplyCreates(t *testing.T) {
	t.Parallel()
	withStatus := applyYAML + "status:\n  replicas: 7\n"
	res := mustPatch(t, nil, deploymentGVK, types.ApplyYAMLPatchType, withStatus, Options{
		FieldManager: "kubectl", FieldValidation: "Strict", Resource: deployments, Name: "web", Namespace: "default",
	})
	if !res.Created {
		t.Errorf("Patch(apply, nil live).Created = false; want true")
	}
	d := res.Object.(*appsv1.Deployment)
	if d.Name != "web" || d.Namespace != "default" || *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.25" {
		t.Errorf("created object = %+v; want the applied manifest", d)
	}
	if got := res.Object.GetObjectKind().GroupVersionKind(); got != deploymentGVK {
		t.Errorf("created kind = %v; want %v", got, deploymentGVK)
	}
	if e := strings.Join(entries(d), " "); e != "kubectl/Apply@apps/v1" {
		t.Errorf("managedFields = %s; want kubectl/Apply@apps/v1", e)
	}
	for _, path := range [][]string{
		{"f:spec", "f:replicas"},
		{"f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"nginx"}`, "f:image"},
		{"f:metadata", "f:labels", "f:app"},
	} {
		if !owns(t, d, "kubectl", metav1.ManagedFieldsOperationApply, path...) {
			t.Errorf("kubectl does not own %v: %s", path, fieldsOf(d, "kubectl", metav1.ManagedFieldsOperationApply))
		}
	}
	if owns(t, d, "kubectl", metav1.ManagedFieldsOperationApply, "f:status") {
		t.Errorf("kubectl owns status on the main resource, which the strategy resets: %s", fieldsOf(d, "kubectl", metav1.ManagedFieldsOperationApply))
	}
}

func TestApply(t *testing.T) {
	scaledByUpdate := func(t *testing.T) *appsv1.Deployment {
		res := mustPatch(t, appliedDeployment(t), deploymentGVK, types.MergePatchType, `{"spec":{"replicas":5}}`,
			Options{FieldManager: "kubectl-scale", Resource: deployments, Name: "web", Namespace: "default"})
		return res.Object.(*appsv1.Deployment)
	}
	scaledBySubresource := func(t *testing.T) *appsv1.Deployment { return scaleViaSubresource(t, appliedDeployment(t), "5") }
	scaledAndRetagged := func(t *testing.T) *appsv1.Deployment {
		res := mustPatch(t, scaledByUpdate(t), deploymentGVK, types.StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}`,
			Options{FieldManager: "kubectl-set", Resource: deployments, Name: "web", Namespace: "default"})
		return res.Object.(*appsv1.Deployment)
	}

	tests := []struct {
		name        string
		live        func(t *testing.T) *appsv1.Deployment
		patch       string
		opts        Options
		wantMessage string   // for a 409
		wantCauses  []string // "field: message" of a 409
		check       func(t *testing.T, d *appsv1.Deployment)
	}{
		{
			name:  "apply changes the image",
			live:  appliedDeployment,
			patch: applyJSON("nginx:1.25", "nginx:1.26"),
			opts:  applyOpts,
			check: func(t *testing.T, d *appsv1.Deployment) {
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.26" {
					t.Errorf("image = %q; want nginx:1.26", img)
				}
				if e := strings.Join(entries(d), " "); e != "kubectl/Apply@apps/v1" {
					t.Errorf("managedFields = %s; want kubectl/Apply@apps/v1", e)
				}
			},
		},
		{
			name:  "apply that omits a field removes it",
			live:  appliedDeployment,
			patch: applyJSON(`"replicas":3,`, ""),
			opts:  applyOpts,
			check: func(t *testing.T, d *appsv1.Deployment) {
				if d.Spec.Replicas != nil {
					t.Errorf("replicas = %d; want unset", *d.Spec.Replicas)
				}
			},
		},
		{
			name:        "conflict with a kubectl-scale Update manager",
			live:        scaledByUpdate,
			patch:       applyJSON(),
			opts:        applyOpts,
			wantMessage: `Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas`,
			wantCauses:  []string{`.spec.replicas: conflict with "kubectl-scale" using apps/v1`},
		},
		{
			name:  "force takes the field from kubectl-scale",
			live:  scaledByUpdate,
			patch: applyJSON(),
			opts:  Options{FieldManager: "kubectl", Force: true, Resource: deployments, Name: "web", Namespace: "default"},
			check: func(t *testing.T, d *appsv1.Deployment) {
				if *d.Spec.Replicas != 3 {
					t.Errorf("replicas = %d; want 3", *d.Spec.Replicas)
				}
				if e := strings.Join(entries(d), " "); e != "kubectl/Apply@apps/v1" {
					t.Errorf("managedFields = %s; want only kubectl/Apply@apps/v1 (kubectl-scale lost its only field)", e)
				}
			},
		},
		{
			name:        "conflict with kubectl scale through the scale subresource",
			live:        scaledBySubresource,
			patch:       applyJSON(),
			opts:        applyOpts,
			wantMessage: `Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas`,
			wantCauses:  []string{`.spec.replicas: conflict with "kubectl-scale" with subresource "scale" using apps/v1`},
		},
		{
			name:  "applying the value another manager set shares the field",
			live:  scaledByUpdate,
			patch: applyJSON(`"replicas":3`, `"replicas":5`),
			opts:  applyOpts,
			check: func(t *testing.T, d *appsv1.Deployment) {
				if !owns(t, d, "kubectl", metav1.ManagedFieldsOperationApply, "f:spec", "f:replicas") ||
					!owns(t, d, "kubectl-scale", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:replicas") {
					t.Errorf("managedFields = %v; want spec.replicas shared by kubectl and kubectl-scale", entries(d))
				}
			},
		},
		{
			name:  "two conflicts list each manager",
			live:  scaledAndRetagged,
			patch: applyJSON(),
			opts:  applyOpts,
			wantMessage: "Apply failed with 2 conflicts: conflicts with \"kubectl-scale\" using apps/v1:\n- .spec.replicas\n" +
				"conflicts with \"kubectl-set\" using apps/v1:\n- .spec.template.spec.containers[name=\"nginx\"].image",
			wantCauses: []string{
				`.spec.replicas: conflict with "kubectl-scale" using apps/v1`,
				`.spec.template.spec.containers[name="nginx"].image: conflict with "kubectl-set" using apps/v1`,
			},
		},
		{
			name:  "apply to the status subresource owns status only",
			live:  appliedDeployment,
			patch: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"paused":true},"status":{"replicas":3,"readyReplicas":3}}`,
			opts:  Options{FieldManager: "deployment-controller", Subresource: "status", Resource: deployments, Name: "web", Namespace: "default"},
			check: func(t *testing.T, d *appsv1.Deployment) {
				if d.Status.ReadyReplicas != 3 {
					t.Errorf("status.readyReplicas = %d; want 3", d.Status.ReadyReplicas)
				}
				if e := strings.Join(entries(d), " "); e != "deployment-controller/Apply/status@apps/v1 kubectl/Apply@apps/v1" {
					t.Errorf("managedFields = %s; want a status Apply entry next to kubectl's", e)
				}
				if owns(t, d, "deployment-controller", metav1.ManagedFieldsOperationApply, "f:spec") ||
					!owns(t, d, "deployment-controller", metav1.ManagedFieldsOperationApply, "f:status", "f:readyReplicas") {
					t.Errorf("deployment-controller fields = %s; want status, not spec", fieldsOf(d, "deployment-controller", metav1.ManagedFieldsOperationApply))
				}
			},
		},
		{
			name: "kubectl-last-applied applies only the annotation",
			live: appliedDeployment,
			patch: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","annotations":{` +
				jsonString(lastApplied) + `:` + jsonString(deploymentConfig) + `}}}`,
			opts: Options{FieldManager: "kubectl-last-applied", Resource: deployments, Name: "web", Namespace: "default"},
			check: func(t *testing.T, d *appsv1.Deployment) {
				if d.Annotations[lastApplied] != deploymentConfig {
					t.Errorf("last-applied annotation = %q; want the manifest", d.Annotations[lastApplied])
				}
				if *d.Spec.Replicas != 3 || len(d.Spec.Template.Spec.Containers) != 1 {
					t.Errorf("spec = %+v; want it untouched", d.Spec)
				}
				if !owns(t, d, "kubectl-last-applied", metav1.ManagedFieldsOperationApply, "f:metadata", "f:annotations", "f:"+lastApplied) {
					t.Errorf("kubectl-last-applied fields = %s; want the annotation", fieldsOf(d, "kubectl-last-applied", metav1.ManagedFieldsOperationApply))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			live := tt.live(t)
			res, err := newTestManager(t).Patch(live, deploymentGVK, types.ApplyYAMLPatchType, []byte(tt.patch), tt.opts)
			if tt.wantMessage != "" {
				if err == nil {
					t.Fatalf("Patch(apply) = nil error; want 409 %q", tt.wantMessage)
				}
				st := statusOf(t, err)
				if st.Code != http.StatusConflict || st.Reason != metav1.StatusReasonConflict || st.Message != tt.wantMessage {
					t.Errorf("Patch(apply) = %d %s %q; want 409 Conflict %q", st.Code, st.Reason, st.Message, tt.wantMessage)
				}
				var causes []string
				for _, c := range st.Details.Causes {
					if c.Type != metav1.CauseTypeFieldManagerConflict {
						t.Errorf("cause type = %q; want %q", c.Type, metav1.CauseTypeFieldManagerConflict)
					}
					causes = append(causes, c.Field+": "+c.Message)
				}
				if d := diff(causes, tt.wantCauses); d != "" {
					t.Errorf("Patch(apply) causes (-want +got):\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Patch(apply) = %v", err)
			}
			if res.Created {
				t.Errorf("Patch(apply, live).Created = true; want false")
			}
			tt.check(t, res.Object.(*appsv1.Deployment))
		})
	}
}

// TestClientSideToServerSideApply replays kubectl 1.32 switching an object from client-side
// to server-side apply: apply --server-side on a client-side-applied object, the JSON patch
// migrating managedFields that kubectl sends right after, and a later apply that drops a field.
func TestClientSideToServerSideApply(t *testing.T) {
	t.Parallel()
	csa := created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")

	// 1. The first server-side apply changes the image, which kubectl-client-side-apply owns.
	// The last-applied annotation proves kubectl set it, so there is no conflict, and the
	// server keeps the annotation in step with the applied manifest.
	newImage := applyJSON("nginx:1.25", "nginx:1.26")
	res := mustPatch(t, csa, deploymentGVK, types.ApplyYAMLPatchType, newImage, applyOpts)
	applied := res.Object.(*appsv1.Deployment)
	if img := applied.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.26" {
		t.Fatalf("image after the first server-side apply = %q; want nginx:1.26", img)
	}
	if !strings.Contains(applied.Annotations[lastApplied], "nginx:1.26") {
		t.Errorf("last-applied annotation = %q; want it updated to nginx:1.26", applied.Annotations[lastApplied])
	}
	if e := strings.Join(entries(applied), " "); e != "kubectl-client-side-apply/Update@apps/v1 kubectl/Apply@apps/v1" {
		t.Fatalf("managedFields after the first server-side apply = %s", e)
	}

	// Without migration, kubectl-client-side-apply still owns the port: dropping it keeps it.
	noPort := applyJSON(`,"ports":[{"containerPort":80}]`, "", "nginx:1.25", "nginx:1.26")
	res = mustPatch(t, applied, deploymentGVK, types.ApplyYAMLPatchType, noPort, applyOpts)
	if p := res.Object.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Ports; len(p) != 1 {
		t.Errorf("ports after apply without migration = %v; want the port kept", p)
	}

	// 2. kubectl migrates: a JSON patch rewriting managedFields (and resourceVersion).
	owners := csaupgrade.FindFieldsOwners(applied.ManagedFields, metav1.ManagedFieldsOperationUpdate,
		fieldpath.NewSet(fieldpath.MakePathOrDie("metadata", "annotations", lastApplied)))
	names := sets.New[string]()
	for _, o := range owners {
		names.Insert(o.Manager)
	}
	if !names.Has("kubectl-client-side-apply") {
		t.Fatalf("FindFieldsOwners() = %v; want kubectl-client-side-apply", sets.List(names))
	}
	migration, err := csaupgrade.UpgradeManagedFieldsPatch(applied, names, "kubectl")
	if err != nil || migration == nil {
		t.Fatalf("UpgradeManagedFieldsPatch() = %s, %v; want a patch", migration, err)
	}
	res = mustPatch(t, applied, deploymentGVK, types.JSONPatchType, string(migration), applyOpts)
	migrated := res.Object.(*appsv1.Deployment)
	if e := strings.Join(entries(migrated), " "); e != "kubectl/Apply@apps/v1" {
		t.Fatalf("managedFields after migration = %s; want kubectl/Apply@apps/v1 only", e)
	}
	if !owns(t, migrated, "kubectl", metav1.ManagedFieldsOperationApply,
		"f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"nginx"}`, "f:ports") {
		t.Errorf("kubectl does not own the port after migration: %s", fieldsOf(migrated, "kubectl", metav1.ManagedFieldsOperationApply))
	}
	if migrated.ResourceVersion != applied.ResourceVersion {
		t.Errorf("resourceVersion after migration = %q; want %q", migrated.ResourceVersion, applied.ResourceVersion)
	}

	// 3. Now dropping the port from the manifest removes it.
	res = mustPatch(t, migrated, deploymentGVK, types.ApplyYAMLPatchType, noPort, applyOpts)
	final := res.Object.(*appsv1.Deployment)
	if p := final.Spec.Template.Spec.Containers[0].Ports; len(p) != 0 {
		t.Errorf("ports after migrated apply = %v; want none", p)
	}
	if strings.Contains(final.Annotations[lastApplied], "containerPort") {
		t.Errorf("last-applied annotation = %q; want it without the port", final.Annotations[lastApplied])
	}
}
