package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// SystemNamespaces exist from bootstrap, as in Kubernetes.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Bootstrap creates the objects every cluster has, if they are missing: the system
// namespaces and the default RBAC policy. Every master may call it; creating what exists is not
// an error.
func (s *Server) Bootstrap(ctx context.Context) error {
	var objs []runtime.Object
	for _, name := range SystemNamespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	roles, bindings := rbac.BootstrapPolicy()
	for _, r := range roles {
		objs = append(objs, r)
	}
	for _, b := range bindings {
		objs = append(objs, b)
	}
	for _, obj := range objs {
		if err := s.ensure(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// ensure creates a cluster-scoped object unless one with its name exists.
func (s *Server) ensure(ctx context.Context, obj runtime.Object) error {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return err
	}
	m, _ := meta.Accessor(obj)
	for _, st := range s.reg.Stores() {
		if st.Resource().GroupVersionKind() != gvks[0] {
			continue
		}
		_, err := st.Create(ctx, m.GetNamespace(), obj, registry.WriteOptions{FieldManager: "capstan-bootstrap"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiserver: create %s %s: %w", gvks[0].Kind, m.GetName(), err)
		}
		return nil
	}
	return fmt.Errorf("apiserver: no store for %s", gvks[0])
}
