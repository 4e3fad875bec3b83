package serviceaccount

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func namespace(name string, phase corev1.NamespacePhase, deleting bool) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	if deleting {
		ts := metav1.Now()
		ns.DeletionTimestamp = &ts
	}
	return ns
}

func serviceAccount(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// setup builds a controller over a fake clientset whose informers are seeded
// with objs.
func setup(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	nss, sas := factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts()
	for _, o := range objs {
		var err error
		switch x := o.(type) {
		case *corev1.Namespace:
			err = nss.Informer().GetIndexer().Add(x)
		case *corev1.ServiceAccount:
			err = sas.Informer().GetIndexer().Add(x)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c := NewController(client, nss, sas)
	client.ClearActions()
	return c, client
}

// writes summarises the write actions as "verb resource namespace/name".
func writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a, ok := a.(k8stesting.CreateAction); ok {
			m := a.GetObject().(metav1.Object)
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+a.GetNamespace()+"/"+m.GetName())
		}
	}
	return out
}

func TestSync(t *testing.T) {
	tests := []struct {
		name    string
		objs    []runtime.Object
		fail    error
		want    []string
		wantErr bool
	}{
		{
			name: "missing default is created",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceActive, false)},
			want: []string{"create serviceaccounts demo/default"},
		},
		{
			name: "namespace without phase yet is active",
			objs: []runtime.Object{namespace("demo", "", false), serviceAccount("demo", "builder")},
			want: []string{"create serviceaccounts demo/default"},
		},
		{
			name: "existing default is kept",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceActive, false), serviceAccount("demo", "default")},
		},
		{
			name: "terminating namespace gets none",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceTerminating, true)},
		},
		{
			name: "namespace being deleted gets none",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceActive, true)},
		},
		{
			name: "missing namespace is not an error",
		},
		{
			name: "already exists in the store is not an error",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceActive, false)},
			fail: apierrors.NewAlreadyExists(schema.GroupResource{Resource: "serviceaccounts"}, "default"),
			want: []string{"create serviceaccounts demo/default"},
		},
		{
			name: "refusal by a terminating namespace is not an error",
			objs: []runtime.Object{namespace("demo", corev1.NamespaceActive, false)},
			fail: &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}},
			}},
			want: []string{"create serviceaccounts demo/default"},
		},
		{
			name:    "other failures are retried",
			objs:    []runtime.Object{namespace("demo", corev1.NamespaceActive, false)},
			fail:    apierrors.NewInternalError(errors.New("boom")),
			want:    []string{"create serviceaccounts demo/default"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client := setup(t, tt.objs...)
			if tt.fail != nil {
				client.PrependReactor("create", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.fail
				})
			}
			err := c.Sync(context.Background(), "demo")
			if (err != nil) != tt.wantErr {
				t.Errorf("Sync(demo) = %v; want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, writes(client)); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeletedDefaultIsRequeued(t *testing.T) {
	tests := []struct {
		name string
		obj  any
		want int
	}{
		{name: "default", obj: serviceAccount("demo", "default"), want: 1},
		{name: "tombstone of default", obj: cache.DeletedFinalStateUnknown{Key: "demo/default", Obj: serviceAccount("demo", "default")}, want: 1},
		{name: "other service account", obj: serviceAccount("demo", "builder"), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setup(t)
			c.serviceAccountDeleted(tt.obj)
			if got := c.queue.Len(); got != tt.want {
				t.Errorf("queue length = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestRunRecreatesDefault(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewSimpleClientset(namespace("demo", corev1.NamespaceActive, false), serviceAccount("demo", "default"))
	// Signal once the service account watch is registered, so that the
	// deletion below cannot fall between the informer's list and watch.
	watching := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("serviceaccounts", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := client.Tracker().Watch(action.GetResource(), action.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewController(client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, 1)
	}()
	// Wait until the controller's handlers have seen the existing account.
	if !cache.WaitForCacheSync(ctx.Done(), c.handlers[1].handle.HasSynced) {
		t.Fatal("informers did not sync")
	}
	<-watching
	if err := client.CoreV1().ServiceAccounts("demo").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("demo").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Errorf("waiting for default to be recreated: %v", err)
	}
	cancel()
	<-done
}
