package registry

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/capstan-io/capstan/raftstore"
)

// Resource describes one served resource and how it behaves.
type Resource struct {
	// Group, Version and Resource name the resource; Kind and ListKind its types.
	Group, Version, Resource, Kind, ListKind string
	// Singular, ShortNames and Categories are for discovery.
	Singular   string
	ShortNames []string
	Categories []string
	// Namespaced resources live in a namespace that must exist.
	Namespaced bool
	// Strategy says what is specific to the resource.
	Strategy Strategy
}

// GroupResource returns the resource's group and plural name.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// GroupVersionKind returns the resource's kind.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// Strategy holds a resource's behaviour. The zero value is a plain resource with no status
// subresource; every function field is optional.
type Strategy struct {
	// Status makes the resource have a status subresource: writes to the main resource keep the
	// stored status and writes to /status keep the stored spec and most metadata.
	Status bool
	// KeepStatusOnCreate keeps the status sent on create (nodes), instead of clearing it.
	KeepStatusOnCreate bool
	// AllowCreateOnUpdate lets PUT create a missing object.
	AllowCreateOnUpdate bool
	// Scale gives the resource a scale subresource reading and writing spec.replicas.
	Scale bool

	// Defaults, DefaultsOnUpdate, Validate, ValidateUpdate and ValidateStatusUpdate apply
	// Kubernetes' defaulting and validation; the resources package fills them in.
	Defaults             func(obj runtime.Object)
	DefaultsOnUpdate     func(obj, old runtime.Object)
	Validate             func(obj runtime.Object) field.ErrorList
	ValidateUpdate       func(obj, old runtime.Object) field.ErrorList
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList

	// PrepareForCreate and PrepareForUpdate adjust an object beyond the generic rules (the
	// generic rules run first).
	PrepareForCreate func(obj runtime.Object)
	PrepareForUpdate func(obj, old runtime.Object)

	// Fields returns the resource's field-selector attributes beyond metadata.name and
	// metadata.namespace, which every resource has.
	Fields func(obj runtime.Object) fields.Set

	// GracefulDelete returns the grace period a delete should wait for, and whether it should
	// (pods). opts.GracePeriodSeconds is the request's, possibly nil.
	GracefulDelete func(obj runtime.Object, opts *metav1.DeleteOptions) (seconds int64, graceful bool)

	// BeforeDelete may keep an object that a delete would otherwise remove: it adjusts obj
	// (a namespace turns Terminating) and returns true to keep it, with a deletion timestamp,
	// until HeldForDeletion turns false.
	BeforeDelete func(obj runtime.Object) bool
	// HeldForDeletion reports whether something besides metadata.finalizers still holds an
	// object being deleted (a namespace's spec.finalizers).
	HeldForDeletion func(obj runtime.Object) bool

	// Hooks add operations to the transactions that write the resource.
	Hooks Hooks
}

// held reports whether an object being deleted must stay.
func (st *Strategy) held(obj runtime.Object, finalizers []string) bool {
	return len(finalizers) > 0 || (st.HeldForDeletion != nil && st.HeldForDeletion(obj))
}

// Hooks make writes of a resource change other keys atomically, for example to reserve a
// service's cluster IP. A failed compare from a hook makes the write retry with new hooks.
// Hooks may set fields of obj (the allocated IP) before it is encoded.
type Hooks interface {
	// OnCreate returns compares and ops to add when obj is created.
	OnCreate(ctx context.Context, r Reader, obj runtime.Object) ([]raftstore.Compare, []raftstore.Op, error)
	// OnUpdate returns compares and ops to add when old is replaced by obj.
	OnUpdate(ctx context.Context, r Reader, obj, old runtime.Object) ([]raftstore.Compare, []raftstore.Op, error)
	// OnDelete returns ops to add when obj is deleted.
	OnDelete(ctx context.Context, obj runtime.Object) []raftstore.Op
}

// Reader tells hooks whether keys exist, from this master's state: an answer may be stale,
// which is why hooks also add compares.
type Reader interface {
	Exists(ctx context.Context, key string) (bool, error)
}

// backendReader answers Reader from the backend's local state.
type backendReader struct{ b Backend }

func (r backendReader) Exists(ctx context.Context, key string) (bool, error) {
	_, found, _, err := r.b.Get(ctx, key, raftstore.ReadOptions{Stale: true})
	return found, err
}

// specChanged reports whether obj's Spec differs from old's (generation bumps on it).
func specChanged(obj, old runtime.Object) (bool, error) {
	a, okA := fieldOf(obj, "Spec")
	b, okB := fieldOf(old, "Spec")
	if !okA || !okB {
		return false, nil
	}
	return !apiequality.Semantic.DeepEqual(a.Interface(), b.Interface()), nil
}

// hasSpec reports whether the resource's type has a Spec field.
func hasSpec(obj runtime.Object) bool {
	_, ok := fieldOf(obj, "Spec")
	return ok
}

// copyField sets obj's named top-level field to src's.
func copyField(obj, src runtime.Object, name string) error {
	a, okA := fieldOf(obj, name)
	b, okB := fieldOf(src, name)
	if !okA || !okB {
		return fmt.Errorf("registry: %T has no field %s", obj, name)
	}
	a.Set(b)
	return nil
}

// clearField resets obj's named top-level field to its zero value.
func clearField(obj runtime.Object, name string) {
	if v, ok := fieldOf(obj, name); ok {
		v.SetZero()
	}
}
