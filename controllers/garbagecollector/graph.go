package garbagecollector

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// Index names the collector adds to every informer.
const (
	// uidIndex maps a UID to the object that has it.
	uidIndex = "capstan.io/gc-uid"
	// ownerIndex maps an owner's UID to the objects that reference it.
	ownerIndex = "capstan.io/gc-owner-uid"
)

// addIndexers adds the collector's indexes to inf unless it has them
// already (another collector built over the same informers).
func addIndexers(inf cache.SharedIndexInformer) error {
	have := inf.GetIndexer().GetIndexers()
	want := cache.Indexers{}
	if _, ok := have[uidIndex]; !ok {
		want[uidIndex] = indexByUID
	}
	if _, ok := have[ownerIndex]; !ok {
		want[ownerIndex] = indexByOwnerUID
	}
	if len(want) == 0 {
		return nil
	}
	return inf.AddIndexers(want)
}

// indexByUID is the index function of uidIndex.
func indexByUID(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	return []string{string(m.GetUID())}, nil
}

// indexByOwnerUID is the index function of ownerIndex.
func indexByOwnerUID(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	refs := m.GetOwnerReferences()
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		if !slices.Contains(out, string(ref.UID)) {
			out = append(out, string(ref.UID))
		}
	}
	return out, nil
}

// byUID returns the cached object of r with the given UID, or nil.
func (r *resource) byUID(uid types.UID) metav1.Object {
	objs, err := r.indexer.ByIndex(uidIndex, string(uid))
	if err != nil || len(objs) == 0 {
		return nil
	}
	m, err := meta.Accessor(objs[0])
	if err != nil {
		return nil
	}
	return m
}

// dependent is a cached object that references an owner.
type dependent struct {
	res *resource
	obj metav1.Object
}

// dependents returns the cached objects that reference owner, by UID, from
// the places such a reference is valid: owner's namespace for a namespaced
// owner, anywhere for a cluster-scoped one.
func (c *Controller) dependents(owner metav1.Object) []dependent {
	var out []dependent
	for _, r := range c.resources {
		objs, err := r.indexer.ByIndex(ownerIndex, string(owner.GetUID()))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			m, err := meta.Accessor(obj)
			if err != nil {
				continue
			}
			if owner.GetNamespace() != "" && m.GetNamespace() != owner.GetNamespace() {
				continue
			}
			out = append(out, dependent{res: r, obj: m})
		}
	}
	return out
}

// hasDependents reports whether any cached object references the owner with
// the given UID.
func (c *Controller) hasDependents(uid types.UID) bool {
	for _, r := range c.resources {
		if objs, err := r.indexer.ByIndex(ownerIndex, string(uid)); err == nil && len(objs) > 0 {
			return true
		}
	}
	return false
}

// resolve returns the resource ref points to and the namespace the owner
// lives in, for a dependent in namespace ns. It returns false for a kind that
// is not served and for a namespaced kind referenced from a cluster-scoped
// dependent, which Kubernetes treats as invalid.
func (c *Controller) resolve(ns string, ref metav1.OwnerReference) (*resource, string, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, "", false
	}
	r := c.byGK[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
	switch {
	case r == nil:
		return nil, "", false
	case !r.Namespaced:
		return r, "", true
	case ns == "":
		return nil, "", false
	default:
		return r, ns, true
	}
}

// cachedOwner returns the owner ref names, for a dependent in namespace ns,
// as the cache shows it, with its resource. The owner is nil when the cache
// holds no object with the reference's UID at the reference's coordinates.
func (c *Controller) cachedOwner(ns string, ref metav1.OwnerReference) (metav1.Object, *resource) {
	r, ons, ok := c.resolve(ns, ref)
	if !ok {
		return nil, nil
	}
	o := r.byUID(ref.UID)
	if o == nil || o.GetName() != ref.Name || o.GetNamespace() != ons {
		return nil, r
	}
	return o, r
}

// ownerState classifies one owner reference.
type ownerState int

const (
	// ownerAbsent: no object with the reference's UID exists at its coordinates.
	ownerAbsent ownerState = iota
	// ownerSolid: the owner exists and does not wait for its dependents.
	ownerSolid
	// ownerWaiting: the owner is being deleted in the foreground and waits
	// for its dependents.
	ownerWaiting
	// ownerUnverifiable: the reference names a kind that is not served or is
	// invalid; it is never treated as gone.
	ownerUnverifiable
	// ownerUncached: the cache does not show the owner; only the store can
	// tell whether it is absent.
	ownerUncached
)

// cachedOwnerState classifies ref, for a dependent in namespace ns, from the
// cache alone.
func (c *Controller) cachedOwnerState(ns string, ref metav1.OwnerReference) ownerState {
	owner, r := c.cachedOwner(ns, ref)
	switch {
	case r == nil:
		return ownerUnverifiable
	case owner == nil:
		return ownerUncached
	case waitingForDependents(owner):
		return ownerWaiting
	default:
		return ownerSolid
	}
}

// ownersSolid reports whether the cache shows every owner of m existing and
// not waiting for its dependents (or unverifiable): m then needs nothing.
func (c *Controller) ownersSolid(m metav1.Object) bool {
	for _, ref := range m.GetOwnerReferences() {
		switch c.cachedOwnerState(m.GetNamespace(), ref) {
		case ownerSolid, ownerUnverifiable:
		default:
			return false
		}
	}
	return true
}

// hasFinalizer reports whether m carries finalizer f.
func hasFinalizer(m metav1.Object, f string) bool {
	return slices.Contains(m.GetFinalizers(), f)
}

// hasGCFinalizer reports whether m carries a finalizer the collector
// serves.
func hasGCFinalizer(m metav1.Object) bool {
	return hasFinalizer(m, metav1.FinalizerOrphanDependents) || hasFinalizer(m, metav1.FinalizerDeleteDependents)
}

// waitingForDependents reports whether m is being deleted in the foreground.
func waitingForDependents(m metav1.Object) bool {
	return m.GetDeletionTimestamp() != nil && hasFinalizer(m, metav1.FinalizerDeleteDependents)
}

// referenceTo returns m's reference to the owner with the given UID.
func referenceTo(m metav1.Object, uid types.UID) (metav1.OwnerReference, bool) {
	for _, ref := range m.GetOwnerReferences() {
		if ref.UID == uid {
			return ref, true
		}
	}
	return metav1.OwnerReference{}, false
}
