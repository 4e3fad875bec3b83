package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func newRBACServer(t *testing.T) (*testServer, func(token string) *kubernetes.Clientset) {
	t.Helper()
	ts := newTestServer(t, func(cfg *Config) {
		cfg.RBAC = true
		cfg.Authenticator = NewTokenAuthenticator(map[string]*User{
			testToken:    {Name: "admin", Groups: []string{GroupMasters}},
			"jane-token": {Name: "jane"},
			"node1":      {Name: "system:node:n1", Groups: []string{GroupNodes}},
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ts.api.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	clientFor := func(token string) *kubernetes.Clientset {
		cfg := rest.CopyConfig(ts.config)
		cfg.BearerToken = token
		return kubernetes.NewForConfigOrDie(cfg)
	}
	return ts, clientFor
}

// eventually retries fn until it returns nil or the deadline passes: RBAC changes reach the
// authorizer's cache through a watch.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func TestRBACAuthorizesAndPreventsEscalation(t *testing.T) {
	ts, clientFor := newRBACServer(t)
	ctx := testContext(t)
	admin, jane := ts.client, clientFor("jane-token")

	_, err := jane.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "jane" cannot list resource "pods" in API group "" in the namespace "default"`) {
		t.Fatalf("jane lists pods without a binding: %v; want Forbidden with Kubernetes' message", err)
	}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("team").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "jane-admin"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "jane lists pods in team", func() error {
		_, err := jane.CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
		return err
	})
	if _, err := jane.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("jane lists pods in default: %v; want Forbidden (her binding is in team)", err)
	}
	// jane may write Roles in team, but not grant what she does not hold.
	if _, err := jane.RbacV1().Roles("team").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("jane creates a role within her rights: %v", err)
	}
	_, err = jane.RbacV1().Roles("team").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "node-admin"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"*"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held") {
		t.Errorf("jane grants rights over nodes: %v; want Forbidden (escalation)", err)
	}
	if _, err := jane.RbacV1().Roles("team").Get(ctx, "node-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused role was stored: %v", err)
	}
}

func TestNodeMayOnlyWriteItsOwnObjects(t *testing.T) {
	ts, clientFor := newRBACServer(t)
	ctx := testContext(t)
	admin, node := ts.client, clientFor("node1")
	for _, n := range []string{"n1", "n2"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := testPod("on-" + n)
		pod.Spec.NodeName = n
		if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := []byte(`{"status":{"phase":"Running"}}`)
	eventually(t, "the node patches the status of its own pod", func() error {
		_, err := node.CoreV1().Pods("default").Patch(ctx, "on-n1", types.MergePatchType, status, metav1.PatchOptions{}, "status")
		return err
	})
	if _, err := node.CoreV1().Pods("default").Patch(ctx, "on-n2", types.MergePatchType, status, metav1.PatchOptions{}, "status"); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 patches the status of a pod on n2: %v; want Forbidden", err)
	}
	if p, _ := admin.CoreV1().Pods("default").Get(ctx, "on-n2", metav1.GetOptions{}); p.Status.Phase == corev1.PodRunning {
		t.Error("the refused status patch was stored")
	}
	label := []byte(`{"metadata":{"labels":{"x":"y"}}}`)
	if _, err := node.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, label, metav1.PatchOptions{}); err != nil {
		t.Errorf("node n1 patches itself: %v", err)
	}
	if _, err := node.CoreV1().Nodes().Patch(ctx, "n2", types.MergePatchType, label, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 patches node n2: %v; want Forbidden", err)
	}
}
