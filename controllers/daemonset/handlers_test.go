package daemonset

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
	"k8s.io/utils/ptr"
)

func TestNodeHandlersEnqueueAffectedDaemonSets(t *testing.T) {
	ssd := map[string]string{"disk": "ssd"}
	selective := withDS(func(ds *appsv1.DaemonSet) {
		ds.Name, ds.UID = "ssd-agent", "ssd-uid"
		ds.Spec.Template.Spec.NodeSelector = ssd
	})
	tests := []struct {
		name  string
		event func(c *Controller)
		wantQ []string
	}{
		{
			name:  "added plain node wakes only the unselective DaemonSet",
			event: func(c *Controller) { c.addNode(newNode("n", nil)) },
			wantQ: []string{"default/agent"},
		},
		{
			name:  "added ssd node wakes both",
			event: func(c *Controller) { c.addNode(newNode("n", ssd)) },
			wantQ: []string{"default/agent", "default/ssd-agent"},
		},
		{
			name:  "label change wakes the DaemonSet whose decision changed",
			event: func(c *Controller) { c.updateNode(newNode("n", nil), newNode("n", ssd)) },
			wantQ: []string{"default/ssd-agent"},
		},
		{
			name: "status-only update wakes nobody",
			event: func(c *Controller) {
				cur := newNode("n", nil)
				cur.Status.Phase = corev1.NodeRunning
				c.updateNode(newNode("n", nil), cur)
			},
		},
		{
			name: "NoExecute taint wakes both",
			event: func(c *Controller) {
				c.updateNode(newNode("n", ssd), newNode("n", ssd, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}))
			},
			wantQ: []string{"default/agent", "default/ssd-agent"},
		},
		{
			name: "deleted node (tombstone) wakes the DaemonSets that ran there",
			event: func(c *Controller) {
				c.deleteNode(cache.DeletedFinalStateUnknown{Key: "n", Obj: newNode("n", nil)})
			},
			wantQ: []string{"default/agent"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newDS(), selective)
			tc.event(f.c)
			var got []string
			for f.c.queue.Len() > 0 {
				key, _ := f.c.queue.Get()
				got = append(got, key)
				f.c.queue.Done(key)
			}
			if len(got) != len(tc.wantQ) {
				t.Fatalf("queued %q; want %q", got, tc.wantQ)
			}
			seen := map[string]bool{}
			for _, k := range got {
				seen[k] = true
			}
			for _, k := range tc.wantQ {
				if !seen[k] {
					t.Errorf("queued %q; want %q", got, tc.wantQ)
				}
			}
		})
	}
}

func TestPodHandlersLowerExpectations(t *testing.T) {
	ds := newDS()
	f := newFixture(t, ds)
	key := "default/agent"
	pod := newPod("p1", "node-1", ds)

	f.c.creations.ExpectCreations(key, 1)
	f.c.deletions.ExpectDeletions(key, []string{"default/p0"})
	f.c.addPod(pod)
	if f.c.satisfied(key) {
		t.Errorf("after addPod only: satisfied(%s) = true; want false (deletion pending)", key)
	}
	gone := newPod("p0", "node-1", ds)
	dying := gone.DeepCopy()
	dying.ResourceVersion = "8"
	dying.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	f.c.updatePod(gone, dying)
	if !f.c.satisfied(key) {
		t.Errorf("after the deletionTimestamp update: satisfied(%s) = false; want true", key)
	}
}

func TestRunCreatesPodsAndStops(t *testing.T) {
	client := fake.NewClientset(objects(newDS(), nodes(2))...)
	generateNames(client)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewController(client, factory.Apps().V1().DaemonSets(), factory.Apps().V1().ControllerRevisions(),
		factory.Core().V1().Pods(), factory.Core().V1().Nodes(), record.NewFakeRecorder(100))
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
		ds, err := client.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
		return err == nil && ds.Status.CurrentNumberScheduled == 2, nil
	})
	if err != nil {
		t.Fatalf("waiting for status.currentNumberScheduled = 2: %v", err)
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
	if !c.queue.ShuttingDown() {
		t.Errorf("queue not shut down after Run returned")
	}
}
