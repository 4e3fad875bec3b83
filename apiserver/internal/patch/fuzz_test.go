package patch

import (
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// fuzzTarget is a live object the fuzz targets patch.
type fuzzTarget struct {
	live runtime.Object
	gvk  schema.GroupVersionKind
	opts Options
}

var (
	fuzzOnce    sync.Once
	fuzzTargets []fuzzTarget
)

// targets returns a Deployment and a Pod with lists of every merge strategy (merge keys,
// primitives, atomic lists), maps, int-or-strings, quantities and managedFields.
func targets(t *testing.T) []fuzzTarget {
	fuzzOnce.Do(func() {
		d := newDeployment()
		d.Finalizers = []string{"example.com/a"}
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1))}}
		spec := &d.Spec.Template.Spec
		spec.Containers = append(spec.Containers, corev1.Container{
			Name: "sidecar", Image: "busybox", Args: []string{"sleep", "3600"},
			Env:          []corev1.EnvVar{{Name: "A", Value: "1"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		})
		spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		deploy := created(t, d, deploymentGVK, "kubectl-client-side-apply")

		p := newPod()
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "u"}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		pod := created(t, p, podGVK, "kubelet")

		fuzzTargets = []fuzzTarget{
			{deploy, deploymentGVK, Options{FieldManager: "fuzz", Resource: deployments, Name: "web", Namespace: "default"}},
			{pod, podGVK, Options{FieldManager: "fuzz", Resource: pods, Name: "web-0", Namespace: "default"}},
		}
	})
	return fuzzTargets
}

// fuzzPatch applies body as a patch of type pt to every target under each fieldValidation
// directive (and, for apply, with and without force, and as a create). Any outcome is fine but
// a panic, an error that is not a StatusError, or a 5xx.
func fuzzPatch(t *testing.T, pt types.PatchType, body []byte) {
	m := newTestManager(t)
	for _, target := range targets(t) {
		for _, directive := range []string{"Strict", "Warn", "Ignore"} {
			opts := target.opts
			opts.FieldValidation = directive
			lives := []runtime.Object{target.live}
			if pt == types.ApplyYAMLPatchType {
				opts.Force = directive == "Ignore"
				lives = append(lives, nil)
			}
			for _, live := range lives {
				res, err := m.Patch(live, target.gvk, pt, body, opts)
				if err == nil {
					if res.Object == nil || res.Object.GetObjectKind().GroupVersionKind() != target.gvk {
						t.Fatalf("Patch(%s, %q) = %v with kind %v; want a %v", pt, body, res.Object, res.Object.GetObjectKind(), target.gvk)
					}
					continue
				}
				st := statusOf(t, err)
				if st.Code < 400 || st.Code >= 500 {
					t.Fatalf("Patch(%s, %q) = %d %s %q; want a 4xx", pt, body, st.Code, st.Reason, st.Message)
				}
			}
		}
	}
}

func FuzzPatchJSON(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/spec/replicas","value":4}]`,
		`[{"op":"test","path":"/spec/replicas","value":3},{"op":"remove","path":"/spec/template/spec/containers/1"}]`,
		`[{"op":"add","path":"/metadata/labels/a~1b","value":"c"},{"op":"move","from":"/metadata/labels","path":"/metadata/annotations"}]`,
		`[{"op":"copy","from":"/spec/template","path":"/spec/template/metadata/x"}]`,
		`[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"x","image":"y"}}]`,
		`[{"op":"replace","path":"/metadata/managedFields","value":[]}]`,
		`[{"op":"remove","path":"/spec/template/spec/containers/-1"}]`,
		`[{"op":"add","path":"","value":{}}]`,
		`[{"op":"replace","path":"/spec/template/spec/containers/99/image","value":"x"}]`,
		`[{"op":"x"}]`, `[]`, `{}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzPatch(t, types.JSONPatchType, body) })
}

func FuzzPatchMerge(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"replicas":5}}`,
		`{"metadata":{"labels":{"app":null,"tier":"web"}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"x"}]}}}}`,
		`{"metadata":{"managedFields":[{"manager":"m","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]}}`,
		`{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"50%"}}}}`,
		`{"spec":{"replicas":1e400}}`, `{"status":{"phase":7}}`, `{"metadata":null}`,
		`[1]`, `"x"`, `null`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzPatch(t, types.MergePatchType, body) })
}

func FuzzPatchStrategic(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"nginx"}],"containers":[{"image":"nginx:1.26","name":"nginx"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"sidecar"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"b"},{"$patch":"replace"}]}}}}`,
		`{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}`,
		`{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$deleteFromPrimitiveList/args":["sleep"],"$setElementOrder/env":[{"name":"A"}]}]}}}}`,
		`{"spec":{"template":{"spec":{"volumes":[{"name":"data","$retainKeys":["name","hostPath"],"hostPath":{"path":"/x"}}]}}}}`,
		`{"spec":{"template":{"spec":{"tolerations":[{"$patch":"delete"}]}}}}`,
		`{"status":{"conditions":[{"type":"Ready","status":"False"}]}}`,
		`{"spec":{"strategy":{"$retainKeys":[{}]}}}`,
		`{"$patch":"replace"}`, `{"$patch":"delete"}`, `{"metadata":{"$patch":"merge"}}`,
		`[]`, `null`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzPatch(t, types.StrategicMergePatchType, body) })
}

func FuzzPatchApply(f *testing.F) {
	for _, s := range []string{
		applyYAML,
		deploymentConfig,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0"},"spec":{"containers":[{"name":"nginx","image":"x"}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","labels":{"a":"b"}},"status":{"phase":"Failed"}}`,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n      - name: a\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2.5\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  uid: x\n",
		"a: &a [*a]", "- 1", `null`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { fuzzPatch(t, types.ApplyYAMLPatchType, body) })
}
