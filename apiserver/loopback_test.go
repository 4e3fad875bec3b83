package apiserver

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/capstan-io/capstan/raftstore"
)

func TestLoopbackClientAndFence(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	fenceOK := true
	stale := raftstore.ModRevisionIs(raftstore.SystemPrefix+"leader", 1) // not the current fence
	useStale := false
	fence := func() (raftstore.Compare, bool) {
		if useStale {
			return stale, true
		}
		c, ok := ts.store.LeaderFence()
		return c, ok && fenceOK
	}
	client := kubernetes.NewForConfigOrDie(ts.api.Loopback(&User{Name: "capstan-controllers", Groups: []string{GroupMasters}}, fence))

	cm, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Watches stream through the loopback too.
	w, err := client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm.Data = map[string]string{"k": "v"}
	if _, err := client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "MODIFIED" {
			t.Errorf("watch event %s; want MODIFIED", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event through the loopback")
	}

	useStale = true
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("create with a stale fence: %v; want Conflict", err)
	}
	useStale, fenceOK = false, false
	if err := client.CoreV1().ConfigMaps("default").Delete(ctx, "a", metav1.DeleteOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("delete after the fence was lost: %v; want Conflict", err)
	}
	if _, err := ts.client.CoreV1().ConfigMaps("default").Get(context.Background(), "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the fenced create was stored: %v", err)
	}
}
