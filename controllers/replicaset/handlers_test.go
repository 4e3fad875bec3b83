package replicaset

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

func TestPodHandlersLowerExpectations(t *testing.T) {
	rs := newRS("web", 2)
	f := newFixture(t, rs)
	key := "default/web"
	pod := newPod("p1", "web", rs)

	f.c.expectations.ExpectCreations(key, 1)
	f.c.addPod(pod)
	if !f.c.expectations.Satisfied(key) {
		t.Errorf("after addPod: Satisfied(%s) = false; want true", key)
	}

	f.c.expectations.ExpectDeletions(key, []string{"default/p1"})
	dying := pod.DeepCopy()
	dying.ResourceVersion = "8"
	dying.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f.c.updatePod(pod, dying)
	if !f.c.expectations.Satisfied(key) {
		t.Errorf("after the deletionTimestamp update: Satisfied(%s) = false; want true", key)
	}
	// The final deletion of the same pod changes nothing.
	f.c.deletePod(cache.DeletedFinalStateUnknown{Key: "default/p1", Obj: dying})
	if adds, dels := f.c.expectations.Pending(key); adds != 0 || dels != 0 {
		t.Errorf("Pending(%s) = %d, %d; want 0, 0", key, adds, dels)
	}
	if n := f.c.queue.Len(); n != 1 {
		t.Errorf("queue length = %d; want 1 (one key, deduplicated)", n)
	}
}

func TestOrphanPodWakesMatchingReplicaSets(t *testing.T) {
	f := newFixture(t, newRS("web", 1), newRS("db", 1))
	f.c.addPod(newPod("orphan", "web", nil))
	if n := f.c.queue.Len(); n != 1 {
		t.Fatalf("queue length = %d; want 1", n)
	}
	if key, _ := f.c.queue.Get(); key != "default/web" {
		t.Errorf("queued key = %q; want default/web", key)
	}
}

func TestRunCreatesPodsAndStops(t *testing.T) {
	client := fake.NewClientset(newRS("web", 2))
	generateNames(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewController(client, factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), record.NewFakeRecorder(100))
	ctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 2)
	}()

	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		rs, err := client.AppsV1().ReplicaSets("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && rs.Status.Replicas == 2, nil
	})
	if err != nil {
		t.Fatalf("waiting for status.replicas = 2: %v", err)
	}
	if pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil || len(pods.Items) != 2 {
		t.Errorf("pods = %d, %v; want 2 (no duplicates)", len(pods.Items), err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
	if n := c.queue.Len(); n != 0 && !c.queue.ShuttingDown() {
		t.Errorf("queue still running with %d keys", n)
	}
}
