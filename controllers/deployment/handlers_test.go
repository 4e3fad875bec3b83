package deployment

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"
)

func TestReplicaSetHandlersEnqueueTheDeployment(t *testing.T) {
	d := newDeployment("web", 1)
	owned := rsFor(d, 1, "1", time.Hour)
	orphan := owned.DeepCopy()
	orphan.Name, orphan.UID, orphan.OwnerReferences = "orphan", "orphan-uid", nil
	unrelated := orphan.DeepCopy()
	unrelated.Name, unrelated.Labels = "unrelated", map[string]string{"app": "db"}
	tests := []struct {
		name  string
		event func(c *Controller)
		want  int
	}{
		{name: "owned ReplicaSet added", event: func(c *Controller) { c.addReplicaSet(owned) }, want: 1},
		{name: "orphan ReplicaSet added", event: func(c *Controller) { c.addReplicaSet(orphan) }, want: 1},
		{name: "unrelated ReplicaSet added", event: func(c *Controller) { c.addReplicaSet(unrelated) }, want: 0},
		{name: "resync without change", event: func(c *Controller) { c.updateReplicaSet(owned, owned) }, want: 0},
		{name: "owned ReplicaSet deleted (tombstone)", event: func(c *Controller) {
			c.deleteReplicaSet(cache.DeletedFinalStateUnknown{Key: "default/" + owned.Name, Obj: owned})
		}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, d)
			tt.event(f.c)
			if got := f.c.queue.Len(); got != tt.want {
				t.Errorf("queue length = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestDeletePodWakesRecreateWhenNoPodsRemain(t *testing.T) {
	d := newDeployment("web", 1, recreate())
	rs := rsFor(d, 0, "1", time.Hour)
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", Labels: rs.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		}}
	}
	f := newFixture(t, d, rs)
	last, other := pod("last"), pod("other")
	f.cache(other)
	f.c.deletePod(last)
	if got := f.c.queue.Len(); got != 0 {
		t.Errorf("queue length with a pod left = %d; want 0", got)
	}
	if err := f.podStore.Delete(other); err != nil {
		t.Fatal(err)
	}
	f.c.deletePod(cache.DeletedFinalStateUnknown{Key: "default/other", Obj: other})
	if got := f.c.queue.Len(); got != 1 {
		t.Errorf("queue length after the last pod = %d; want 1", got)
	}
}

func TestRunRollsOutAndStops(t *testing.T) {
	client := fake.NewClientset(newDeployment("web", 2))
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewController(client, factory.Apps().V1().Deployments(), factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), record.NewFakeRecorder(100))
	_, tctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(tctx)
	defer cancel()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 2)
	}()

	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && got.Annotations[RevisionAnnotation] == "1" && got.Status.ObservedGeneration == 1, nil
	})
	if err != nil {
		t.Fatalf("waiting for revision 1: %v", err)
	}
	rss, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(rss.Items) != 1 || *rss.Items[0].Spec.Replicas != 2 {
		t.Errorf("ReplicaSets = %+v, %v; want one of 2 replicas", rss, err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}
