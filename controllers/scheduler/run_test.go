package scheduler

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

// clientBinder binds pods through a clientset, one update per binding, checking the
// resourceVersion precondition itself (the fake clientset does not).
type clientBinder struct {
	client kubernetes.Interface
}

var _ Binder = clientBinder{}

// Bind implements Binder.
func (b clientBinder) Bind(ctx context.Context, bindings []Binding) []error {
	errs := make([]error, len(bindings))
	for i, bd := range bindings {
		pods := b.client.CoreV1().Pods(bd.Pod.Namespace)
		cur, err := pods.Get(ctx, bd.Pod.Name, metav1.GetOptions{})
		if err != nil {
			errs[i] = err
			continue
		}
		if cur.ResourceVersion != bd.Pod.ResourceVersion || cur.Spec.NodeName != "" {
			errs[i] = apierrors.NewConflict(podsResource, cur.Name, fmt.Errorf("pod changed"))
			continue
		}
		rv, _ := strconv.Atoi(cur.ResourceVersion)
		cur.ResourceVersion = strconv.Itoa(rv + 1)
		cur.Spec.NodeName = bd.Node
		_, errs[i] = pods.Update(ctx, cur, metav1.UpdateOptions{})
	}
	return errs
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func(ctx context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(ctx context.Context) (bool, error) { return cond(ctx), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestRun drives the scheduler through running informers over a fake clientset: pending
// pods are bound, a pod that fits nowhere is marked Unschedulable, and a node created later
// gets it.
func TestRun(t *testing.T) {
	withRV := func(p *corev1.Pod) *corev1.Pod { p.ResourceVersion = "1"; return p }
	client := fake.NewClientset(
		makeNode("node-a", "4", "8Gi", 110),
		withRV(makePod("p1", 0, "1", "", "rs")),
		withRV(makePod("p2", 1, "1", "", "rs")),
	)
	factory := informers.NewSharedInformerFactory(client, 0)
	s := NewScheduler(client, clientBinder{client}, factory.Core().V1().Pods(), factory.Core().V1().Nodes(),
		&eventLog{}, Options{Clock: testingclock.NewFakeClock(t0)})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()

	nodeOf := func(ctx context.Context, name string) string {
		p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return p.Spec.NodeName
	}
	waitFor(t, "p1 and p2 to be bound", func(ctx context.Context) bool {
		return nodeOf(ctx, "p1") == "node-a" && nodeOf(ctx, "p2") == "node-a"
	})

	if _, err := client.CoreV1().Pods("default").Create(ctx, withRV(makePod("big", 2, "8", "", "")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "big to be marked Unschedulable", func(ctx context.Context) bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false
		}
		c := scheduledCondition(p)
		return c != nil && c.Reason == corev1.PodReasonUnschedulable && c.Message == "0/1 nodes are available: 1 Insufficient cpu."
	})

	if _, err := client.CoreV1().Nodes().Create(ctx, makeNode("node-b", "16", "8Gi", 110), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "big to be bound to the new node", func(ctx context.Context) bool { return nodeOf(ctx, "big") == "node-b" })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}
