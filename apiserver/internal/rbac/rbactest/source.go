// Package rbactest provides an in-memory rbac.RuleSource for tests of the rbac
// package and of its callers.
package rbactest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
)

var _ rbac.RuleSource = (*Source)(nil)

// Source is an in-memory rbac.RuleSource holding Roles, ClusterRoles and their
// bindings. It is safe for concurrent use. The objects it returns are shared
// with later calls and must not be modified.
type Source struct {
	mu                  sync.RWMutex // protects the fields below
	roles               map[string]*rbacv1.Role
	clusterRoles        map[string]*rbacv1.ClusterRole
	roleBindings        map[string]*rbacv1.RoleBinding
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding
	err                 error
}

// NewSource returns a Source holding copies of objs (see Add).
func NewSource(objs ...runtime.Object) *Source {
	s := &Source{
		roles:               map[string]*rbacv1.Role{},
		clusterRoles:        map[string]*rbacv1.ClusterRole{},
		roleBindings:        map[string]*rbacv1.RoleBinding{},
		clusterRoleBindings: map[string]*rbacv1.ClusterRoleBinding{},
	}
	s.Add(objs...)
	return s
}

// Add stores deep copies of objs, replacing objects of the same kind, namespace
// and name. Each must be a *rbacv1.Role, *rbacv1.ClusterRole,
// *rbacv1.RoleBinding or *rbacv1.ClusterRoleBinding; Add panics on other types.
func (s *Source) Add(objs ...runtime.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, obj := range objs {
		switch o := obj.(type) {
		case *rbacv1.Role:
			s.roles[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case *rbacv1.ClusterRole:
			s.clusterRoles[o.Name] = o.DeepCopy()
		case *rbacv1.RoleBinding:
			s.roleBindings[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case *rbacv1.ClusterRoleBinding:
			s.clusterRoleBindings[o.Name] = o.DeepCopy()
		default:
			panic(fmt.Sprintf("rbactest: unsupported object %T", obj))
		}
	}
}

// SetError makes every method return err (nil restores normal operation).
func (s *Source) SetError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// GetRole returns the Role namespace/name, or (nil, nil) if there is none.
func (s *Source) GetRole(namespace, name string) (*rbacv1.Role, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.err != nil {
		return nil, s.err
	}
	return s.roles[namespace+"/"+name], nil
}

// GetClusterRole returns the ClusterRole name, or (nil, nil) if there is none.
func (s *Source) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.err != nil {
		return nil, s.err
	}
	return s.clusterRoles[name], nil
}

// ListRoleBindings returns the RoleBindings of namespace, sorted by name.
func (s *Source) ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.err != nil {
		return nil, s.err
	}
	var out []*rbacv1.RoleBinding
	for _, rb := range s.roleBindings {
		if rb.Namespace == namespace {
			out = append(out, rb)
		}
	}
	slices.SortFunc(out, func(a, b *rbacv1.RoleBinding) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ListClusterRoleBindings returns every ClusterRoleBinding, sorted by name.
func (s *Source) ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.err != nil {
		return nil, s.err
	}
	out := make([]*rbacv1.ClusterRoleBinding, 0, len(s.clusterRoleBindings))
	for _, crb := range s.clusterRoleBindings {
		out = append(out, crb)
	}
	slices.SortFunc(out, func(a, b *rbacv1.ClusterRoleBinding) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ClusterRoles returns every ClusterRole, sorted by name, for Aggregate.
func (s *Source) ClusterRoles() []*rbacv1.ClusterRole {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*rbacv1.ClusterRole, 0, len(s.clusterRoles))
	for _, r := range s.clusterRoles {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
	return out
}
