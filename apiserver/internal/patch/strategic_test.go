package patch

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// kubectlApplyPatch returns the three-way strategic merge patch kubectl apply sends when the
// applied manifest changes from deploymentConfig to newConfig.
func kubectlApplyPatch(t *testing.T, live runtime.Object, newConfig string) string {
	t.Helper()
	// kubectl's modified document carries the new last-applied annotation.
	var modified map[string]interface{}
	if err := json.Unmarshal([]byte(newConfig), &modified); err != nil {
		t.Fatal(err)
	}
	modified["metadata"].(map[string]interface{})["annotations"] = map[string]interface{}{lastApplied: newConfig + "\n"}
	modifiedJS, _ := json.Marshal(modified)
	current := live.DeepCopyObject()
	current.GetObjectKind().SetGroupVersionKind(deploymentGVK) // as kubectl GETs it
	currentJS, _ := json.Marshal(current)
	meta, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := strategicpatch.CreateThreeWayMergePatch([]byte(deploymentConfig), modifiedJS, currentJS, meta, true)
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func TestKubectlApplyPatchShape(t *testing.T) {
	live := created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
	newConfig := strings.Replace(deploymentConfig, "nginx:1.25", "nginx:1.26", 1)
	want := `{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":` + jsonString(newConfig+"\n") +
		`}},"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.26","name":"nginx"}]}}}}`
	if got := kubectlApplyPatch(t, live, newConfig); got != want {
		t.Errorf("CreateThreeWayMergePatch(image change) = %s; want %s", got, want)
	}
}

// fixedPatch returns a patch function for TestPatchStrategicMerge that sends body
// whatever the live object.
func fixedPatch(body string) func(*testing.T, runtime.Object) string {
	return func(*testing.T, runtime.Object) string { return body }
}

// wantContainers returns a check for TestPatchStrategicMerge that the patched
// Deployment's pod template has the containers names, comma-separated, in order.
func wantContainers(names string) func(*testing.T, runtime.Object) {
	return func(t *testing.T, got runtime.Object) {
		if n := containerNames(deploy(got).Spec.Template.Spec); n != names {
			t.Errorf("containers = %s; want %s", n, names)
		}
	}
}

func TestPatchStrategicMerge(t *testing.T) {
	csaDeployment := func(t *testing.T) runtime.Object {
		return created(t, newDeployment(), deploymentGVK, "kubectl-client-side-apply")
	}
	twoContainers := func(t *testing.T) runtime.Object {
		d := newDeployment()
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
		d.Finalizers = []string{"example.com/a", "example.com/b"}
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge:       ptr.To(intstr.FromString("25%")),
				MaxUnavailable: ptr.To(intstr.FromString("25%")),
			},
		}
		return created(t, d, deploymentGVK, "kubectl-client-side-apply")
	}
	newConfig := strings.Replace(deploymentConfig, "nginx:1.25", "nginx:1.26", 1)
	sidecarConfig := strings.Replace(deploymentConfig, `"containers":[`, `"containers":[{"image":"busybox","name":"sidecar"},`, 1)

	tests := []struct {
		name  string
		live  func(t *testing.T) runtime.Object
		gvk   string
		patch func(t *testing.T, live runtime.Object) string
		opts  Options
		check func(t *testing.T, got runtime.Object)
	}{
		{
			name: "kubectl apply changes the image with $setElementOrder",
			live: csaDeployment,
			patch: func(t *testing.T, live runtime.Object) string {
				p := kubectlApplyPatch(t, live, newConfig)
				if !strings.Contains(p, `"$setElementOrder/containers":[{"name":"nginx"}]`) {
					t.Fatalf("kubectl patch %s lacks $setElementOrder/containers", p)
				}
				return p
			},
			opts: Options{FieldManager: "kubectl-client-side-apply", FieldValidation: "Strict"},
			check: func(t *testing.T, got runtime.Object) {
				d := deploy(got)
				c := d.Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Image != "nginx:1.26" || len(c[0].Ports) != 1 {
					t.Errorf("containers = %+v; want nginx:1.26 keeping its port", c)
				}
				if d.Annotations[lastApplied] != newConfig+"\n" {
					t.Errorf("last-applied = %q; want the new manifest", d.Annotations[lastApplied])
				}
				if e := entries(got); strings.Join(e, " ") != "kubectl-client-side-apply/Update@apps/v1" {
					t.Errorf("managedFields = %v; want one kubectl-client-side-apply Update entry", e)
				}
			},
		},
		{
			name: "kubectl apply inserts a container before the existing one",
			live: csaDeployment,
			patch: func(t *testing.T, live runtime.Object) string {
				p := kubectlApplyPatch(t, live, sidecarConfig)
				if !strings.Contains(p, `"$setElementOrder/containers":[{"name":"sidecar"},{"name":"nginx"}]`) {
					t.Fatalf("kubectl patch %s lacks the element order", p)
				}
				return p
			},
			opts:  Options{FieldManager: "kubectl-client-side-apply", FieldValidation: "Strict"},
			check: wantContainers("sidecar,nginx"),
		},
		{
			name:  "kubectl apply removes a container with $patch delete",
			live:  twoContainers,
			patch: fixedPatch(`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"$patch":"delete","name":"sidecar"}]}}}}`),
			opts:  Options{FieldManager: "kubectl-client-side-apply"},
			check: wantContainers("nginx"),
		},
		{
			name:  "$patch replace replaces the whole list",
			live:  twoContainers,
			patch: fixedPatch(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1"},{"$patch":"replace"}]}}}}`),
			opts:  Options{FieldManager: "kubectl-edit"},
			check: wantContainers("app"),
		},
		{
			name:  "$retainKeys drops rollingUpdate when the strategy becomes Recreate",
			live:  twoContainers,
			patch: fixedPatch(`{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}`),
			opts:  Options{FieldManager: "kubectl-client-side-apply"},
			check: func(t *testing.T, got runtime.Object) {
				want := appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				if s := deploy(got).Spec.Strategy; diff(s, want) != "" {
					t.Errorf("strategy = %+v; want %+v", s, want)
				}
			},
		},
		{
			name:  "$deleteFromPrimitiveList removes one finalizer",
			live:  twoContainers,
			patch: fixedPatch(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}}`),
			opts:  Options{FieldManager: "kubectl-patch"},
			check: func(t *testing.T, got runtime.Object) {
				if f := deploy(got).Finalizers; len(f) != 1 || f[0] != "example.com/b" {
					t.Errorf("finalizers = %v; want [example.com/b]", f)
				}
			},
		},
		{
			name:  "kubectl rollout restart annotates the template",
			live:  csaDeployment,
			patch: fixedPatch(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-02T03:04:05Z"}}}}}`),
			opts:  Options{FieldManager: "kubectl-rollout"},
			check: func(t *testing.T, got runtime.Object) {
				if a := deploy(got).Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; a != "2025-01-02T03:04:05Z" {
					t.Errorf("restartedAt = %q; want 2025-01-02T03:04:05Z", a)
				}
				if !owns(t, got, "kubectl-rollout", metav1.ManagedFieldsOperationUpdate,
					"f:spec", "f:template", "f:metadata", "f:annotations", "f:kubectl.kubernetes.io/restartedAt") {
					t.Errorf("kubectl-rollout does not own restartedAt: %s", fieldsOf(got, "kubectl-rollout", metav1.ManagedFieldsOperationUpdate))
				}
			},
		},
		{
			name:  "kind and apiVersion changes are ignored",
			live:  csaDeployment,
			patch: fixedPatch(`{"apiVersion":"v1","kind":"Pod","spec":{"paused":true}}`),
			opts:  Options{FieldManager: "kubectl-patch"},
			check: func(t *testing.T, got runtime.Object) {
				if gvk := got.GetObjectKind().GroupVersionKind(); gvk != deploymentGVK || !deploy(got).Spec.Paused {
					t.Errorf("kind = %v, paused = %v; want %v, true", gvk, deploy(got).Spec.Paused, deploymentGVK)
				}
			},
		},
		{
			name:  "kubectl set image on a pod merges the container by name",
			live:  func(t *testing.T) runtime.Object { return created(t, newPod(), podGVK, "kubectl-run") },
			gvk:   "pod",
			patch: fixedPatch(`{"spec":{"containers":[{"image":"nginx:1.26","name":"nginx"}]}}`),
			opts:  Options{FieldManager: "kubectl-set"},
			check: func(t *testing.T, got runtime.Object) {
				p := got.(*corev1.Pod)
				if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "nginx:1.26" || p.Spec.NodeName != "node-1" {
					t.Errorf("pod spec = %+v; want nginx:1.26 on node-1", p.Spec)
				}
				if e := entries(got); strings.Join(e, " ") != "kubectl-run/Update@v1 kubectl-set/Update@v1" {
					t.Errorf("managedFields = %v; want kubectl-run and kubectl-set", e)
				}
			},
		},
		{
			name:  "null deletes a pod label",
			live:  func(t *testing.T) runtime.Object { return created(t, newPod(), podGVK, "kubectl-run") },
			gvk:   "pod",
			patch: fixedPatch(`{"metadata":{"labels":{"app":null,"tier":"web"}}}`),
			opts:  Options{FieldManager: "kubectl-edit"},
			check: func(t *testing.T, got runtime.Object) {
				if l := got.(*corev1.Pod).Labels; diff(l, map[string]string{"tier": "web"}) != "" {
					t.Errorf("labels = %v; want only tier=web", l)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			live := tt.live(t)
			gvk, opts := deploymentGVK, tt.opts
			opts.Resource, opts.Name, opts.Namespace = deployments, "web", "default"
			if tt.gvk == "pod" {
				gvk = podGVK
				opts.Resource, opts.Name = pods, "web-0"
			}
			before := live.DeepCopyObject()
			res := mustPatch(t, live, gvk, types.StrategicMergePatchType, tt.patch(t, live), opts)
			if res.Created || len(res.Warnings) > 0 {
				t.Errorf("Patch() created = %v, warnings = %v; want false, none", res.Created, res.Warnings)
			}
			if d := diff(live, before); d != "" {
				t.Errorf("Patch() modified live (-want +got):\n%s", d)
			}
			tt.check(t, res.Object)
		})
	}
}
