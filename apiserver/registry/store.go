package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
	"github.com/capstan-io/capstan/raftstore"
)

// Store serves one resource. It is safe for concurrent use.
type Store struct {
	reg     *Registry
	res     *Resource
	gvk     schema.GroupVersionKind
	gr      schema.GroupResource
	prefix  string // "/registry/<resource>/"
	listGVK schema.GroupVersionKind
}

func newStore(reg *Registry, res *Resource) (*Store, error) {
	s := &Store{
		reg: reg, res: res, gvk: res.GroupVersionKind(), gr: res.GroupResource(),
		prefix:  "/registry/" + res.Resource + "/",
		listGVK: schema.GroupVersionKind{Group: res.Group, Version: res.Version, Kind: res.ListKind},
	}
	if _, err := newObject(s.gvk); err != nil {
		return nil, err
	}
	if _, err := newObject(s.listGVK); err != nil {
		return nil, err
	}
	return s, nil
}

// Resource returns what the store serves.
func (s *Store) Resource() *Resource { return s.res }

// New returns an empty object of the resource's kind.
func (s *Store) New() runtime.Object {
	obj, _ := newObject(s.gvk)
	return obj
}

// NewList returns an empty list of the resource's kind.
func (s *Store) NewList() runtime.Object {
	obj, _ := newObject(s.listGVK)
	return obj
}

// WriteOptions are the parameters of a write request.
type WriteOptions struct {
	// DryRun runs every step but the write.
	DryRun bool
	// FieldManager names the writer in managedFields.
	FieldManager string
	// FieldValidation is Strict, Warn or Ignore (Warn when empty).
	FieldValidation string
	// Subresource is "" for the object itself or "status".
	Subresource string
	// Force takes over conflicting fields in a server-side apply.
	Force bool
	// Fence is added to the compares of every write: the leader's fence for the writes of its
	// controllers, so that a deposed leader's late writes fail (see raftstore.LeaderFence).
	Fence []raftstore.Compare
	// Admit, when set, is called with the object about to be written and the stored one
	// (nil on create; obj nil on delete) after defaulting and validation; an error refuses
	// the write. The apiserver's admission (node restriction, RBAC escalation) uses it.
	Admit func(ctx context.Context, obj, old runtime.Object) error
}

// errFenced is returned when a write's fence fails: the leadership it was made for has ended.
var errFenced = errors.New("the leadership this write was made for has ended")

// txn runs a transaction with opts' fence appended to its compares. A failed fence is an
// error (409 Conflict); any other failed compare is returned as usual.
func (s *Store) txn(ctx context.Context, name string, compares []raftstore.Compare, ops []raftstore.Op, opts WriteOptions) (raftstore.TxnResult, error) {
	n := len(compares)
	res, err := s.reg.backend.Txn(ctx, raftstore.Txn{Compares: append(compares[:n:n], opts.Fence...), Ops: ops})
	if err == nil && !res.Succeeded && res.FailedCompare >= n {
		return res, apierrors.NewConflict(s.gr, name, errFenced)
	}
	return res, err
}

func (o WriteOptions) admit(ctx context.Context, obj, old runtime.Object) error {
	if o.Admit == nil {
		return nil
	}
	return o.Admit(ctx, obj, old)
}

func (s *Store) key(ns, name string) (string, error) {
	if err := checkSegment("name", name); err != nil {
		return "", err
	}
	if !s.res.Namespaced {
		return s.prefix + name, nil
	}
	if err := checkSegment("namespace", ns); err != nil {
		return "", err
	}
	return s.prefix + ns + "/" + name, nil
}

// listPrefix returns the key prefix of the objects in ns ("" for all namespaces).
func (s *Store) listPrefix(ns string) string {
	if !s.res.Namespaced || ns == "" {
		return s.prefix
	}
	return s.prefix + ns + "/"
}

// checkSegment refuses names that cannot be one key segment.
func checkSegment(what, v string) error {
	if v == "" {
		return apierrors.NewBadRequest(what + " is required")
	}
	if v == "." || v == ".." || strings.ContainsAny(v, "/%\x00") {
		return apierrors.NewBadRequest(fmt.Sprintf("%s %q may not be '.', '..' or contain '/', '%%' or NUL", what, v))
	}
	return nil
}

// parseRV parses a resourceVersion parameter; "" is 0.
func parseRV(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q: %v", rv, err))
	}
	return n, nil
}

// decodeKV decodes a stored value into a new object with its resourceVersion set.
func (s *Store) decodeKV(kv raftstore.KeyValue) (runtime.Object, error) {
	obj, err := s.reg.codec.decode(kv.Value)
	if err != nil {
		return nil, err
	}
	setRV(obj, kv.ModRevision)
	return obj, nil
}

func setRV(obj runtime.Object, rev uint64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatUint(rev, 10))
	}
}

// readOptions maps a resourceVersion parameter to a store read: "" is linearizable, "0" reads
// whatever this master has, N reads state not older than N.
func readOptions(rv string) (raftstore.ReadOptions, error) {
	switch rv {
	case "":
		return raftstore.ReadOptions{}, nil
	case "0":
		return raftstore.ReadOptions{Stale: true}, nil
	}
	n, err := parseRV(rv)
	if err != nil {
		return raftstore.ReadOptions{}, err
	}
	return raftstore.ReadOptions{Stale: true, MinRevision: n}, nil
}

// Get returns one object.
func (s *Store) Get(ctx context.Context, ns, name string, opts metav1.GetOptions) (runtime.Object, error) {
	key, err := s.key(ns, name)
	if err != nil {
		return nil, err
	}
	ro, err := readOptions(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	kv, found, _, err := s.reg.backend.Get(ctx, key, ro)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apierrors.NewNotFound(s.gr, name)
	}
	return s.decodeKV(kv)
}

// current reads the stored object. A miss on this member's state is confirmed with a
// linearizable read, so an object just created through another master is found.
func (s *Store) current(ctx context.Context, key string) (runtime.Object, raftstore.KeyValue, bool, error) {
	kv, found, _, err := s.reg.backend.Get(ctx, key, raftstore.ReadOptions{Stale: true})
	if err == nil && !found {
		kv, found, _, err = s.reg.backend.Get(ctx, key, raftstore.ReadOptions{})
	}
	if err != nil || !found {
		return nil, kv, false, err
	}
	obj, err := s.decodeKV(kv)
	return obj, kv, true, err
}

// encode serialises obj for storage, with its resourceVersion cleared, and enforces the size limit.
func (s *Store) encode(obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	data, err := s.reg.codec.encode(obj, s.gvk)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, err
	}
	if len(data) > s.reg.cfg.MaxObjectSize {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the object is %d bytes encoded; the limit is %d", len(data), s.reg.cfg.MaxObjectSize))
	}
	return data, nil
}

// checkKind refuses an object of another kind than the resource's.
func (s *Store) checkKind(obj runtime.Object) error {
	if want := s.New(); fmt.Sprintf("%T", want) != fmt.Sprintf("%T", obj) {
		return apierrors.NewBadRequest(fmt.Sprintf("expected a %s object, got %T", s.gvk.Kind, obj))
	}
	return nil
}

// Create stores a new object and returns it as stored.
func (s *Store) Create(ctx context.Context, ns string, obj runtime.Object, opts WriteOptions) (runtime.Object, error) {
	if err := s.checkKind(obj); err != nil {
		return nil, err
	}
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if err := s.setNamespace(m, ns); err != nil {
		return nil, err
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if m.GetName() == "" && !generated {
		return nil, apierrors.NewInvalid(s.gvk.GroupKind(), "", fieldRequired("metadata.name", "name or generateName is required"))
	}
	if err := s.prepareCreate(obj, m); err != nil {
		return nil, err
	}
	if generated {
		m.SetName(m.GetGenerateName() + randomSuffix())
	}
	if err := s.validateCreate(obj, m); err != nil {
		return nil, err
	}
	obj, err = s.reg.patcher.Update(nil, obj, s.gvk, patch.Options{FieldManager: opts.FieldManager})
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		out, retry, err := s.createOnce(ctx, obj, opts)
		if !retry || attempt >= 5 {
			return out, err
		}
		if generated && apierrors.IsAlreadyExists(err) {
			m, _ := meta.Accessor(obj)
			m.SetName(m.GetGenerateName() + randomSuffix())
		}
	}
}

// createOnce writes obj if its key is absent. retry reports a failure a new attempt may fix
// (a hook's reservation or a generated name taken meanwhile).
func (s *Store) createOnce(ctx context.Context, obj runtime.Object, opts WriteOptions) (runtime.Object, bool, error) {
	m, _ := meta.Accessor(obj)
	key, err := s.key(m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, false, err
	}
	compares := []raftstore.Compare{raftstore.Absent(key)}
	var ops []raftstore.Op
	if s.res.Namespaced {
		compares = append(compares, raftstore.Exists(namespaceKey(m.GetNamespace())))
	}
	if h := s.res.Strategy.Hooks; h != nil {
		c, o, err := h.OnCreate(ctx, backendReader{s.reg.backend}, obj)
		if err != nil {
			return nil, false, err
		}
		compares, ops = append(compares, c...), o
	}
	if err := s.checkNamespace(ctx, m.GetNamespace()); err != nil {
		return nil, false, err
	}
	if err := opts.admit(ctx, obj, nil); err != nil {
		return nil, false, err
	}
	data, err := s.encode(obj)
	if err != nil {
		return nil, false, err
	}
	if opts.DryRun {
		return obj, false, nil
	}
	res, err := s.txn(ctx, m.GetName(), compares, append([]raftstore.Op{raftstore.Put(key, data)}, ops...), opts)
	if err != nil {
		return nil, false, err
	}
	switch {
	case res.Succeeded:
		out := obj.DeepCopyObject()
		setRV(out, res.Revision)
		return out, false, nil
	case res.FailedCompare == 0:
		return nil, m.GetGenerateName() != "", apierrors.NewAlreadyExists(s.gr, m.GetName())
	case s.res.Namespaced && res.FailedCompare == 1:
		return nil, false, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, m.GetNamespace())
	default:
		return nil, true, apierrors.NewConflict(s.gr, m.GetName(), errors.New("a reservation made for the object was taken meanwhile; retry"))
	}
}

// setNamespace puts the request's namespace on the object, refusing a different one in the body.
func (s *Store) setNamespace(m metav1.Object, ns string) error {
	if !s.res.Namespaced {
		m.SetNamespace("")
		return nil
	}
	if got := m.GetNamespace(); got != "" && got != ns {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", got, ns))
	}
	m.SetNamespace(ns)
	return nil
}

// prepareCreate sets the fields the server owns on a new object and applies defaults.
func (s *Store) prepareCreate(obj runtime.Object, m metav1.Object) error {
	now := metav1.NewTime(s.reg.cfg.Now().UTC().Truncate(1e9))
	m.SetUID(types.UID(uuid.NewUUID()))
	m.SetCreationTimestamp(now)
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	if hasSpec(obj) {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	st := s.res.Strategy
	if st.Status && !st.KeepStatusOnCreate {
		clearField(obj, "Status")
	}
	if st.Defaults != nil {
		st.Defaults(obj)
	}
	if st.PrepareForCreate != nil {
		st.PrepareForCreate(obj)
	}
	return nil
}

func (s *Store) validateCreate(obj runtime.Object, m metav1.Object) error {
	if v := s.res.Strategy.Validate; v != nil {
		if errs := v(obj); len(errs) > 0 {
			return apierrors.NewInvalid(s.gvk.GroupKind(), m.GetName(), errs)
		}
	}
	return nil
}

// checkNamespace refuses writes into a namespace that is missing or being deleted.
func (s *Store) checkNamespace(ctx context.Context, ns string) error {
	if !s.res.Namespaced {
		return nil
	}
	kv, found, _, err := s.reg.backend.Get(ctx, namespaceKey(ns), raftstore.ReadOptions{Stale: true})
	if err == nil && !found {
		kv, found, _, err = s.reg.backend.Get(ctx, namespaceKey(ns), raftstore.ReadOptions{})
	}
	if err != nil {
		return err
	}
	if !found {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
	}
	obj, err := s.reg.cache.get(s.reg.codec, namespaceKey(ns), kv.ModRevision, kv.Value)
	if err != nil {
		return err
	}
	if m, err := meta.Accessor(obj); err == nil && m.GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(s.gr, "", fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

func namespaceKey(ns string) string { return "/registry/namespaces/" + ns }

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// randomSuffix returns the 5 random characters Kubernetes appends to a generateName.
func randomSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet))))
		b[i] = suffixAlphabet[n.Int64()]
	}
	return string(b)
}
