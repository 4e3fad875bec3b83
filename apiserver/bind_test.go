package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/raftstore"
)

func TestBindPods(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	create := func(name, node string) *corev1.Pod {
		p, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fresh, stale, bound := create("fresh", ""), create("stale", ""), create("bound", "n0")
	staleCopy := stale.DeepCopy()
	stale.Labels = map[string]string{"changed": "yes"}
	if _, err := pods.Update(ctx, stale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	lostFence := func() (raftstore.Compare, bool) { return raftstore.Compare{}, false }

	tests := []struct {
		name     string
		bindings []PodBinding
		fence    FenceFunc
		want     []bool // true: bound, false: conflict
	}{
		{name: "lost fence binds nothing", bindings: []PodBinding{{Pod: fresh, Node: "n1"}}, fence: lostFence, want: []bool{false}},
		{name: "mixed batch", bindings: []PodBinding{{Pod: fresh, Node: "n1"}, {Pod: staleCopy, Node: "n1"}, {Pod: bound, Node: "n1"}}, want: []bool{true, false, false}},
		{name: "bound pods stay bound", bindings: []PodBinding{{Pod: fresh, Node: "n2"}}, want: []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ts.api.BindPods(ctx, tt.bindings, tt.fence)
			for i, ok := range tt.want {
				if ok && errs[i] != nil {
					t.Errorf("binding %d: %v", i, errs[i])
				}
				if !ok && !apierrors.IsConflict(errs[i]) {
					t.Errorf("binding %d: %v, want Conflict", i, errs[i])
				}
			}
		})
	}
	got, err := pods.Get(ctx, "fresh", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.NodeName != "n1" {
		t.Fatalf("fresh is on %q, want n1", got.Spec.NodeName)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Errorf("fresh has no PodScheduled=True condition: %v", got.Status.Conditions)
	}
}
