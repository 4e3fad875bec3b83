package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// rbacAuthorizer adapts the rbac package to the server's Authorizer.
type rbacAuthorizer struct {
	src *ruleCache
	a   *rbac.Authorizer
}

var _ Authorizer = (*rbacAuthorizer)(nil)

func toRBACUser(u *User) rbac.User { return rbac.User{Name: u.Name, UID: u.UID, Groups: u.Groups} }

// Authorize waits for the rule cache's first sync, then evaluates RBAC.
func (r *rbacAuthorizer) Authorize(ctx context.Context, u *User, attr Attributes) (bool, string, error) {
	if err := r.src.waitSynced(ctx); err != nil {
		return false, "", err
	}
	return r.a.Authorize(ctx, rbac.Attributes{
		User: toRBACUser(u), Verb: attr.Verb, ResourceRequest: attr.ResourceRequest, APIGroup: attr.APIGroup,
		Resource: attr.Resource, Subresource: attr.Subresource, Namespace: attr.Namespace, Name: attr.Name, Path: attr.Path,
	})
}

// admit is the admission every API write passes before it is stored: the node restriction and,
// for RBAC objects, the privilege-escalation checks. obj is nil for deletes, old for creates.
func (q *request) admit(ctx context.Context, obj, old runtime.Object) error {
	authz := q.s.rbac
	if authz == nil {
		return nil
	}
	u, ok := UserFrom(ctx)
	if !ok {
		return nil
	}
	user := toRBACUser(u)
	name := q.info.name
	if name == "" && obj != nil {
		if m, err := meta.Accessor(obj); err == nil {
			name = m.GetName()
		}
	}
	gr := schema.GroupResource{Group: q.info.group, Resource: q.info.res}
	attr := rbac.Attributes{User: user, Verb: q.info.verb, ResourceRequest: true, APIGroup: q.info.group, Resource: q.info.res,
		Subresource: q.info.subresource, Namespace: q.info.namespace, Name: name}
	podNode := func() (string, error) {
		for _, o := range []runtime.Object{old, obj} {
			if pod, ok := o.(*corev1.Pod); ok {
				return pod.Spec.NodeName, nil
			}
		}
		return "", nil
	}
	if err := rbac.NodeRestriction(attr, podNode); err != nil {
		return admissionError(gr, name, err)
	}
	var err error
	switch o := obj.(type) {
	case *rbacv1.Role:
		prev, _ := old.(*rbacv1.Role)
		err = authz.a.CheckRole(ctx, user, o, prev)
	case *rbacv1.ClusterRole:
		prev, _ := old.(*rbacv1.ClusterRole)
		err = authz.a.CheckClusterRole(ctx, user, o, prev)
	case *rbacv1.RoleBinding:
		prev, _ := old.(*rbacv1.RoleBinding)
		err = authz.a.CheckRoleBinding(ctx, user, o, prev)
	case *rbacv1.ClusterRoleBinding:
		prev, _ := old.(*rbacv1.ClusterRoleBinding)
		err = authz.a.CheckClusterRoleBinding(ctx, user, o, prev)
	}
	return admissionError(gr, name, err)
}

func admissionError(gr schema.GroupResource, name string, err error) error {
	var nf *rbac.NotFoundError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		return apierrors.NewNotFound(nf.Resource, nf.Name)
	case errors.Is(err, rbac.ErrForbidden):
		return apierrors.NewForbidden(gr, name, err)
	}
	return err
}

// ruleCache keeps the RBAC objects in memory for the authorizer, fed by watches on the local
// store. Run fills it; reads before the first sync wait.
type ruleCache struct {
	reg *registry.Registry

	mu                  sync.RWMutex // protects the maps
	roles               map[string]map[string]*rbacv1.Role
	clusterRoles        map[string]*rbacv1.ClusterRole
	roleBindings        map[string]map[string]*rbacv1.RoleBinding
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding

	syncOnce sync.Once
	synced   chan struct{}
	pending  sync.WaitGroup // resources not yet listed
}

var _ rbac.RuleSource = (*ruleCache)(nil)

func newRuleCache(reg *registry.Registry) *ruleCache {
	c := &ruleCache{
		reg: reg, synced: make(chan struct{}),
		roles: map[string]map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		roleBindings: map[string]map[string]*rbacv1.RoleBinding{}, clusterRoleBindings: map[string]*rbacv1.ClusterRoleBinding{},
	}
	c.pending.Add(4)
	return c
}

var rbacResources = []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}

// run watches the four RBAC resources until ctx ends, re-listing after any watch failure.
func (c *ruleCache) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, res := range rbacResources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.follow(ctx, res)
		}()
	}
	go func() {
		c.pending.Wait()
		c.syncOnce.Do(func() { close(c.synced) })
	}()
	wg.Wait()
}

// follow keeps one resource in the cache: list, then watch from the list's revision, and list
// again whenever the watch fails. The first successful list marks the resource synced.
func (c *ruleCache) follow(ctx context.Context, res string) {
	store := c.reg.MustStore(schema.GroupResource{Group: rbacv1.GroupName, Resource: res})
	var once sync.Once
	for ctx.Err() == nil {
		list, err := store.List(ctx, "", metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond): // back off before listing again
			}
			continue
		}
		items, _ := meta.ExtractList(list)
		lm, _ := meta.ListAccessor(list)
		c.replace(res, items)
		once.Do(c.pending.Done)
		w, err := store.Watch(ctx, "", metav1.ListOptions{ResourceVersion: lm.GetResourceVersion()})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			c.apply(ev)
		}
		w.Stop()
	}
}

// replace sets one resource's objects from a list.
func (c *ruleCache) replace(res string, items []runtime.Object) {
	c.mu.Lock()
	switch res {
	case "roles":
		c.roles = map[string]map[string]*rbacv1.Role{}
	case "clusterroles":
		c.clusterRoles = map[string]*rbacv1.ClusterRole{}
	case "rolebindings":
		c.roleBindings = map[string]map[string]*rbacv1.RoleBinding{}
	case "clusterrolebindings":
		c.clusterRoleBindings = map[string]*rbacv1.ClusterRoleBinding{}
	}
	c.mu.Unlock()
	for _, it := range items {
		c.apply(watch.Event{Type: watch.Added, Object: it})
	}
}

func (c *ruleCache) apply(ev watch.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	del := ev.Type == watch.Deleted
	switch o := ev.Object.(type) {
	case *rbacv1.Role:
		if c.roles[o.Namespace] == nil {
			c.roles[o.Namespace] = map[string]*rbacv1.Role{}
		}
		if del {
			delete(c.roles[o.Namespace], o.Name)
		} else {
			c.roles[o.Namespace][o.Name] = o
		}
	case *rbacv1.ClusterRole:
		if del {
			delete(c.clusterRoles, o.Name)
		} else {
			c.clusterRoles[o.Name] = o
		}
	case *rbacv1.RoleBinding:
		if c.roleBindings[o.Namespace] == nil {
			c.roleBindings[o.Namespace] = map[string]*rbacv1.RoleBinding{}
		}
		if del {
			delete(c.roleBindings[o.Namespace], o.Name)
		} else {
			c.roleBindings[o.Namespace][o.Name] = o
		}
	case *rbacv1.ClusterRoleBinding:
		if del {
			delete(c.clusterRoleBindings, o.Name)
		} else {
			c.clusterRoleBindings[o.Name] = o
		}
	}
}

func (c *ruleCache) waitSynced(ctx context.Context) error {
	select {
	case <-c.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("authorization rules are not loaded yet: %w", ctx.Err())
	}
}

// GetRole implements rbac.RuleSource.
func (c *ruleCache) GetRole(namespace, name string) (*rbacv1.Role, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.roles[namespace][name], nil
}

// GetClusterRole implements rbac.RuleSource.
func (c *ruleCache) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.clusterRoles[name], nil
}

// ListRoleBindings implements rbac.RuleSource.
func (c *ruleCache) ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*rbacv1.RoleBinding, 0, len(c.roleBindings[namespace]))
	for _, b := range c.roleBindings[namespace] {
		out = append(out, b)
	}
	return out, nil
}

// ListClusterRoleBindings implements rbac.RuleSource.
func (c *ruleCache) ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*rbacv1.ClusterRoleBinding, 0, len(c.clusterRoleBindings))
	for _, b := range c.clusterRoleBindings {
		out = append(out, b)
	}
	return out, nil
}
