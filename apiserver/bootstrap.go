package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/registry"
)

// SystemNamespaces exist from bootstrap, as in Kubernetes.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Bootstrap creates the objects every cluster has, if they are missing: the system
// namespaces. Every master may call it; creating what exists is not an error.
func (s *Server) Bootstrap(ctx context.Context) error {
	ns := s.reg.MustStore(schema.GroupResource{Resource: "namespaces"})
	for _, name := range SystemNamespaces {
		_, err := ns.Create(ctx, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, registry.WriteOptions{FieldManager: "capstan-bootstrap"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiserver: create namespace %s: %w", name, err)
		}
	}
	return nil
}
