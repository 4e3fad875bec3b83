package patch

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// rolloutUndoPatch returns the JSON patch kubectl rollout undo sends: the target ReplicaSet's
// pod template (without pod-template-hash) and the Deployment's annotations.
func rolloutUndoPatch(t *testing.T) string {
	t.Helper()
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nginx", Image: "nginx:1.24",
			Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
		}}},
	}
	annotations := map[string]string{
		"deployment.kubernetes.io/revision": "1",
		lastApplied:                         deploymentConfig + "\n",
	}
	p, err := json.Marshal([]interface{}{
		map[string]interface{}{"op": "replace", "path": "/spec/template", "value": template},
		map[string]interface{}{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func TestPatchJSONAndMerge(t *testing.T) {
	csaDeployment := func(t *testing.T) runtime.Object {
		return created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
	}
	runPod := func(t *testing.T) runtime.Object { return created(t, newPod(), podGVK, "kubectl-run") }

	tests := []struct {
		name      string
		live      func(t *testing.T) runtime.Object
		pod       bool
		patchType types.PatchType
		patch     func(t *testing.T) string
		manager   string
		removes   bool // the patch only removes fields, so the manager owns nothing afterwards
		check     func(t *testing.T, got runtime.Object)
	}{
		{
			name:      "kubectl label adds a pod label",
			live:      runPod,
			pod:       true,
			patchType: types.MergePatchType,
			patch:     func(*testing.T) string { return `{"metadata":{"labels":{"tier":"frontend"}}}` },
			manager:   "kubectl-label",
			check: func(t *testing.T, got runtime.Object) {
				if l := got.(*corev1.Pod).Labels; diff(l, map[string]string{"app": "web", "tier": "frontend"}) != "" {
					t.Errorf("labels = %v; want app=web, tier=frontend", l)
				}
				if !owns(t, got, "kubectl-label", metav1.ManagedFieldsOperationUpdate, "f:metadata", "f:labels", "f:tier") {
					t.Errorf("kubectl-label does not own the tier label: %s", fieldsOf(got, "kubectl-label", metav1.ManagedFieldsOperationUpdate))
				}
			},
		},
		{
			name:      "kubectl label app- removes a label",
			live:      runPod,
			pod:       true,
			patchType: types.MergePatchType,
			patch:     func(*testing.T) string { return `{"metadata":{"labels":{"app":null}}}` },
			manager:   "kubectl-label",
			removes:   true,
			check: func(t *testing.T, got runtime.Object) {
				if l := got.(*corev1.Pod).Labels; len(l) != 0 {
					t.Errorf("labels = %v; want none", l)
				}
			},
		},
		{
			name:      "merge patch of spec.replicas moves ownership",
			live:      csaDeployment,
			patchType: types.MergePatchType,
			patch:     func(*testing.T) string { return `{"spec":{"replicas":5}}` },
			manager:   "kubectl-scale",
			check: func(t *testing.T, got runtime.Object) {
				if r := deploy(got).Spec.Replicas; r == nil || *r != 5 {
					t.Errorf("replicas = %v; want 5", r)
				}
				if !owns(t, got, "kubectl-scale", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:replicas") ||
					owns(t, got, "kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:replicas") {
					t.Errorf("managedFields = %v; want spec.replicas owned by kubectl-scale only", entries(got))
				}
			},
		},
		{
			name:      "merge patch replaces a list",
			live:      csaDeployment,
			patchType: types.MergePatchType,
			patch: func(*testing.T) string {
				return `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}`
			},
			manager: "kubectl-patch",
			check: func(t *testing.T, got runtime.Object) {
				c := deploy(got).Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Image != "nginx:1.27" || len(c[0].Ports) != 0 {
					t.Errorf("containers = %+v; want nginx:1.27 without ports", c)
				}
			},
		},
		{
			name:      "kubectl rollout undo replaces template and annotations",
			live:      csaDeployment,
			patchType: types.JSONPatchType,
			patch:     rolloutUndoPatch,
			manager:   "kubectl-rollout",
			check: func(t *testing.T, got runtime.Object) {
				d := deploy(got)
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.24" {
					t.Errorf("image = %q; want nginx:1.24", img)
				}
				if rev := d.Annotations["deployment.kubernetes.io/revision"]; rev != "1" {
					t.Errorf("revision annotation = %q; want 1", rev)
				}
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
					t.Errorf("replicas = %v; want 3 untouched", d.Spec.Replicas)
				}
				if !owns(t, got, "kubectl-rollout", metav1.ManagedFieldsOperationUpdate, "f:metadata", "f:annotations", "f:deployment.kubernetes.io/revision") {
					t.Errorf("kubectl-rollout does not own the revision annotation: %s", fieldsOf(got, "kubectl-rollout", metav1.ManagedFieldsOperationUpdate))
				}
			},
		},
		{
			name:      "json patch test then replace",
			live:      csaDeployment,
			patchType: types.JSONPatchType,
			patch: func(*testing.T) string {
				return `[{"op":"test","path":"/spec/replicas","value":3},{"op":"replace","path":"/spec/replicas","value":4}]`
			},
			manager: "ctl",
			check: func(t *testing.T, got runtime.Object) {
				if r := deploy(got).Spec.Replicas; r == nil || *r != 4 {
					t.Errorf("replicas = %v; want 4", r)
				}
			},
		},
		{
			name:      "json patch adds a label through an escaped path",
			live:      runPod,
			pod:       true,
			patchType: types.JSONPatchType,
			patch: func(*testing.T) string {
				return `[{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"web"}]`
			},
			manager: "ctl",
			check: func(t *testing.T, got runtime.Object) {
				if v := got.(*corev1.Pod).Labels["app.kubernetes.io/name"]; v != "web" {
					t.Errorf("label app.kubernetes.io/name = %q; want web", v)
				}
			},
		},
		{
			name:      "json patch removes a container port",
			live:      csaDeployment,
			patchType: types.JSONPatchType,
			patch: func(*testing.T) string {
				return `[{"op":"remove","path":"/spec/template/spec/containers/0/ports"}]`
			},
			manager: "ctl",
			removes: true,
			check: func(t *testing.T, got runtime.Object) {
				if p := deploy(got).Spec.Template.Spec.Containers[0].Ports; len(p) != 0 {
					t.Errorf("ports = %v; want none", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			live := tt.live(t)
			gvk, opts := deploymentGVK, Options{FieldManager: tt.manager, FieldValidation: "Strict", Resource: deployments, Name: "web", Namespace: "default"}
			if tt.pod {
				gvk, opts.Resource, opts.Name = podGVK, pods, "web-0"
			}
			before := live.DeepCopyObject()
			res := mustPatch(t, live, gvk, tt.patchType, tt.patch(t), opts)
			if res.Created || len(res.Warnings) > 0 {
				t.Errorf("Patch() created = %v, warnings = %v; want false, none", res.Created, res.Warnings)
			}
			if d := diff(live, before); d != "" {
				t.Errorf("Patch() modified live (-want +got):\n%s", d)
			}
			if got := res.Object.GetObjectKind().GroupVersionKind(); got != gvk {
				t.Errorf("Patch() kind = %v; want %v", got, gvk)
			}
			if e := strings.Join(entries(res.Object), " "); strings.Contains(e, tt.manager+"/Update") == tt.removes {
				t.Errorf("managedFields = %s; want an Update entry by %s: %v", e, tt.manager, !tt.removes)
			}
			tt.check(t, res.Object)
		})
	}
}
