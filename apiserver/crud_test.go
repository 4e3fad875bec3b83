package apiserver

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func TestPodLifecycle(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	pods := ts.client.CoreV1().Pods("default")

	created, err := pods.Create(ctx, testPod("web-1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() || created.Status.Phase != corev1.PodPending {
		t.Errorf("created pod lacks server fields: uid %q rv %q phase %q", created.UID, created.ResourceVersion, created.Status.Phase)
	}
	if created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("defaults not applied: restartPolicy %q pullPolicy %q", created.Spec.RestartPolicy, created.Spec.Containers[0].ImagePullPolicy)
	}
	if len(created.ManagedFields) == 0 {
		t.Error("created pod has no managedFields")
	}
	if _, err := pods.Create(ctx, testPod("web-1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v; want AlreadyExists", err)
	}

	got, err := pods.Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("Get = %v, %v", got, err)
	}

	// An update with the current resourceVersion succeeds; a stale one conflicts.
	got.Labels["tier"] = "front"
	updated, err := pods.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion {
		t.Error("update did not change the resourceVersion")
	}
	got.Labels["tier"] = "back"
	if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: %v; want Conflict", err)
	}
	// A UID in the body is a precondition.
	other := updated.DeepCopy()
	other.UID = "not-the-pod"
	if _, err := pods.Update(ctx, other, metav1.UpdateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "UID in precondition") {
		t.Errorf("update with another UID: %v; want Conflict", err)
	}
	if _, err := pods.Patch(ctx, "web-1", types.MergePatchType, []byte(`{"metadata":{"uid":"not-the-pod"}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("patch with another UID: %v; want Conflict", err)
	}

	// Patches of every kind.
	patches := []struct {
		name string
		typ  types.PatchType
		data string
		want string
	}{
		{name: "merge", typ: types.MergePatchType, data: `{"metadata":{"labels":{"p":"merge"}}}`, want: "merge"},
		{name: "strategic", typ: types.StrategicMergePatchType, data: `{"metadata":{"labels":{"p":"smp"}}}`, want: "smp"},
		{name: "json", typ: types.JSONPatchType, data: `[{"op":"replace","path":"/metadata/labels/p","value":"json"}]`, want: "json"},
	}
	for _, p := range patches {
		out, err := pods.Patch(ctx, "web-1", p.typ, []byte(p.data), metav1.PatchOptions{})
		if err != nil || out.Labels["p"] != p.want {
			t.Errorf("%s patch = %v, %v; want label p=%s", p.name, out.Labels, err, p.want)
		}
	}

	// List with a label selector and a field selector.
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "web-1" || list.ResourceVersion == "" {
		t.Errorf("List(app=web) = %v, %v", list, err)
	}
	list, err = pods.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=db-1"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "db-1" {
		t.Errorf("List(metadata.name=db-1) = %v, %v", list, err)
	}
	if _, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nope=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("List with an unknown field label: %v; want BadRequest", err)
	}

	// An unscheduled pod is deleted at once.
	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "web-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get after delete: %v; want NotFound", err)
	}
}

func TestWatchSeesChangesAndResumes(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	cms := ts.client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first.Data["k"] = "2"
	if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"MODIFIED a", "ADDED b", "DELETED a"}
	for i, wantEv := range want {
		ev := <-w.ResultChan()
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("event %d: %s %T; want %s", i, ev.Type, ev.Object, wantEv)
		}
		if got := fmt.Sprintf("%s %s", ev.Type, cm.Name); got != wantEv {
			t.Errorf("event %d = %s; want %s", i, got, wantEv)
		}
	}

	// A watch from revision 0 starts with the current objects as ADDED events.
	w0, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w0.Stop()
	ev := <-w0.ResultChan()
	if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Errorf("first event of a watch from 0 = %s %v; want ADDED b", ev.Type, ev.Object)
	}
}
