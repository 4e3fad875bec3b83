package validation

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// want is one expected error: its type, its field path and, optionally, a
// substring of its detail.
type want struct {
	typ    field.ErrorType
	field  string
	detail string
}

func required(f string) want { return want{typ: field.ErrorTypeRequired, field: f} }
func invalid(f string) want  { return want{typ: field.ErrorTypeInvalid, field: f} }
func invalidMsg(f, detail string) want {
	return want{typ: field.ErrorTypeInvalid, field: f, detail: detail}
}
func notSupported(f string) want { return want{typ: field.ErrorTypeNotSupported, field: f} }
func forbidden(f string) want    { return want{typ: field.ErrorTypeForbidden, field: f} }
func forbiddenMsg(f, detail string) want {
	return want{typ: field.ErrorTypeForbidden, field: f, detail: detail}
}
func duplicate(f string) want { return want{typ: field.ErrorTypeDuplicate, field: f} }
func notFound(f string) want  { return want{typ: field.ErrorTypeNotFound, field: f} }
func tooLong(f string) want   { return want{typ: field.ErrorTypeTooLong, field: f} }
func tooMany(f string) want   { return want{typ: field.ErrorTypeTooMany, field: f} }

func (w want) String() string {
	return fmt.Sprintf("%s %s", w.typ, w.field)
}

// describe renders an error list one error per line, sorted.
func describe(errs field.ErrorList) string {
	lines := make([]string, 0, len(errs))
	for _, e := range errs {
		lines = append(lines, fmt.Sprintf("%s %s: %s", e.Type, e.Field, e.Detail))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkErrors fails unless got holds exactly the wanted errors (by type and
// field, as a multiset) and each wanted detail is a substring of its match.
func checkErrors(t *testing.T, call string, got field.ErrorList, wants ...want) {
	t.Helper()
	remaining := append(field.ErrorList(nil), got...)
	var missing []string
	for _, w := range wants {
		found := -1
		for i, e := range remaining {
			if e.Type == w.typ && e.Field == w.field && strings.Contains(e.Detail, w.detail) {
				found = i
				break
			}
		}
		if found < 0 {
			missing = append(missing, w.String()+" "+w.detail)
			continue
		}
		remaining = append(remaining[:found], remaining[found+1:]...)
	}
	if len(missing) > 0 || len(remaining) > 0 {
		t.Errorf("%s = \n%s\nwant %v (missing %v, unexpected:\n%s)", call, describe(got), wants, missing, describe(remaining))
	}
}

func ptr[T any](v T) *T { return &v }

// validPod returns a minimal valid, defaulted Pod.
func validPod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "nginx",
				Image: "nginx:1.25",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
			}},
		},
	}
	defaults.Apply(p)
	return p
}

// storedPod returns validPod as the store would hold it, ready to be the old
// object of an update.
func storedPod() *corev1.Pod {
	p := validPod()
	p.ResourceVersion = "7"
	p.UID = "0b8f4c1a-6c49-4a59-9c0f-0d9a2b0c8e11"
	p.Spec.Tolerations = defaults.Tolerations(p.Spec.Tolerations, 300) // added by the pod strategy at create
	return p
}

// validTemplate returns a defaulted pod template labelled app=web.
func validTemplate() corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.25"}},
		},
	}
	defaults.PodTemplateSpec(&t)
	return t
}

func validDeployment() *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: validTemplate(),
		},
	}
	defaults.Apply(d)
	return d
}

func validJob() *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: "5b1d3a0e-2f3c-4b8e-9a6d-7c1e2f3a4b5c"},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34", Command: []string{"perl", "-e", "print 1"}}},
				},
			},
		},
	}
	defaults.Create(j)
	return j
}
