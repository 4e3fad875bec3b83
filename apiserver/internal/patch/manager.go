package patch

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// MaxJSONPatchCopyBytes bounds the total size that "copy" operations of one JSON patch may add
// to a document, as the reference apiserver's --json-patch-max-copy-bytes default does (3 MiB).
// New installs it in gopkg.in/evanphx/json-patch.v4's process-wide limit unless a smaller
// limit is already set.
const MaxJSONPatchCopyBytes = 3 * 1024 * 1024

// maxJSONPatchOperations is the reference apiserver's limit on the operations of one JSON
// patch; a longer patch is refused with 413.
const maxJSONPatchOperations = 10000

// Options carries the parameters of one PATCH, or of the create or update that Update records.
type Options struct {
	// FieldManager is the ?fieldManager parameter. For everything but apply patches the caller
	// defaults an empty one with FieldManagerFromUserAgent, as the reference apiserver does;
	// apply patches require it (an empty one is refused with 422).
	FieldManager string
	// Force is the ?force parameter; only apply patches may set it.
	Force bool
	// Subresource is "" for the main resource, or "status" or "scale". It selects the field
	// manager (managedFields entries carry it) and the fields the endpoint's strategy resets.
	Subresource string
	// FieldValidation is the ?fieldValidation parameter: "Strict", "Warn" or "Ignore". Empty
	// means "Warn", the reference apiserver's default.
	FieldValidation string
	// Resource names the resource in NotFound and Conflict errors, for example
	// {Group: "apps", Resource: "deployments"}; for a subresource the caller may append it
	// ("deployments/scale") as the reference does.
	Resource schema.GroupResource
	// Name is the object name from the request path. Patch refuses a patched object with
	// another name (400). Empty skips the check.
	Name string
	// Namespace is the namespace from the request path, empty for cluster-scoped resources.
	// Patch fills an empty namespace in the patched object with it and refuses another one (400).
	// The check runs only when Name is set.
	Namespace string
}

// Result is the outcome of a successful Patch.
type Result struct {
	// Object is the patched object, a new object of the kind's Go type with apiVersion and kind
	// set and managedFields updated. The caller still runs its strategy (PrepareForUpdate or
	// PrepareForCreate), validation and the resourceVersion precondition.
	Object runtime.Object
	// Created is true when an apply patch created the object (live was nil).
	Created bool
	// Warnings are the fieldValidation=Warn findings (unknown and duplicate fields), one
	// warning per finding, for the caller to send as Warning headers.
	Warnings []string
}

// Manager applies patches and maintains metadata.managedFields for the kinds of a scheme,
// the built-in k8s.io/api types in production. It is safe for concurrent use.
type Manager struct {
	scheme    *runtime.Scheme
	converter *typeConverter
	strict    *json.Serializer // decodes JSON reporting unknown and duplicate fields
	lax       *json.Serializer // decodes JSON dropping unknown fields

	mu       sync.Mutex // protects managers
	managers map[managerKey]*fieldManager
}

// managerKey identifies the field manager of one endpoint.
type managerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

// fieldManager is the reference field manager of one endpoint plus the Go type of its kind.
type fieldManager struct {
	*managedfields.FieldManager
	typ reflect.Type // the pointer type scheme.New returns for the kind
}

// New returns a Manager for the kinds of scheme, which is
// k8s.io/client-go/kubernetes/scheme.Scheme in production. The scheme also serves as the
// defaulter: defaulting functions registered in it are applied to patched objects, as the
// reference apiserver's decoder does. New raises no error for a scheme without defaulters.
func New(scheme *runtime.Scheme) (*Manager, error) {
	if scheme == nil {
		return nil, fmt.Errorf("patch: nil scheme")
	}
	tc, err := newTypeConverter(scheme)
	if err != nil {
		return nil, fmt.Errorf("patch: building the type converter: %v", err)
	}
	limitJSONPatchCopies(MaxJSONPatchCopyBytes)
	return &Manager{
		scheme:    scheme,
		converter: tc,
		strict:    json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Strict: true}),
		lax:       json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{}),
		managers:  map[managerKey]*fieldManager{},
	}, nil
}

// limitJSONPatchCopies lowers json-patch's process-wide copy limit to limit unless a stricter
// one is already in place.
func limitJSONPatchCopies(limit int64) {
	for {
		cur := atomic.LoadInt64(&jsonpatch.AccumulatedCopySizeLimit)
		if cur > 0 && cur <= limit {
			return
		}
		if atomic.CompareAndSwapInt64(&jsonpatch.AccumulatedCopySizeLimit, cur, limit) {
			return
		}
	}
}

// fieldManager returns the field manager of gvk's subresource endpoint, building it on first use.
func (m *Manager) fieldManager(gvk schema.GroupVersionKind, subresource string) (*fieldManager, error) {
	key := managerKey{gvk, subresource}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fm, ok := m.managers[key]; ok {
		return fm, nil
	}
	example, err := m.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownKind, gvk)
	}
	if !m.converter.hasSchema(example) {
		return nil, fmt.Errorf("%w: %v has no schema", ErrUnknownKind, gvk)
	}
	f, err := managedfields.NewDefaultFieldManager(m.converter, m.scheme, m.scheme, m.scheme,
		gvk, gvk.GroupVersion(), subresource, resetFieldsFilter(gvk, subresource))
	if err != nil {
		return nil, fmt.Errorf("patch: field manager for %v: %v", gvk, err)
	}
	fm := &fieldManager{FieldManager: f, typ: reflect.TypeOf(example)}
	m.managers[key] = fm
	return fm, nil
}

// newObject returns a new empty object of gvk with its apiVersion and kind set.
func (m *Manager) newObject(gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := m.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownKind, gvk)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// checkType returns ErrWrongType unless obj has the Go type of fm's kind.
func (fm *fieldManager) checkType(what string, obj runtime.Object) error {
	if t := reflect.TypeOf(obj); t != fm.typ {
		return fmt.Errorf("%w: %s object is %v, want %v", ErrWrongType, what, t, fm.typ)
	}
	return nil
}

// FieldManagerFromUserAgent returns the field manager the reference apiserver records for a
// request without ?fieldManager (other than an apply patch, which requires one): the user
// agent up to its first "/", without unprintable characters, cut to 128 bytes. kubectl's
// "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd" becomes "kubectl".
func FieldManagerFromUserAgent(userAgent string) string {
	prefix, _, _ := strings.Cut(userAgent, "/")
	var b strings.Builder
	for _, r := range prefix {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > metavalidation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isNil reports whether obj is nil or a typed nil pointer, which callers pass as "no object"
// as easily as a plain nil.
func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Update records in obj's managedFields an Update operation by opts.FieldManager that turned
// live into obj, as the reference apiserver does for create (live is nil), update and
// non-apply patches. It modifies obj in place and returns it. Only opts.FieldManager,
// opts.Subresource and opts.FieldValidation are used; the latter two are validated like the
// reference's CreateOptions and UpdateOptions (422 Invalid).
//
// managedFields sent by the client in obj replace live's, which is how clients reset or
// rewrite them; on a subresource they are ignored. Should the field set computation fail,
// obj is returned with its managedFields cleared, like the reference's UpdateNoErrors.
func (m *Manager) Update(live, obj runtime.Object, gvk schema.GroupVersionKind, opts Options) (ret runtime.Object, err error) {
	if isNil(obj) {
		return nil, fmt.Errorf("%w: nil new object", ErrWrongType)
	}
	if isNil(live) {
		live = nil
	}
	if live == nil {
		errs := metavalidation.ValidateCreateOptions(&metav1.CreateOptions{FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation})
		if len(errs) > 0 {
			return nil, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("CreateOptions").GroupKind(), "", errs)
		}
	} else {
		errs := metavalidation.ValidateUpdateOptions(&metav1.UpdateOptions{FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation})
		if len(errs) > 0 {
			return nil, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("UpdateOptions").GroupKind(), "", errs)
		}
	}
	fm, err := m.fieldManager(gvk, opts.Subresource)
	if err != nil {
		return nil, err
	}
	if err := fm.checkType("new", obj); err != nil {
		return nil, err
	}
	if live == nil {
		if live, err = m.newObject(gvk); err != nil {
			return nil, err
		}
	} else if err := fm.checkType("live", live); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			ret, err = nil, newPanicError("managedFields update", r)
		}
	}()
	return fm.UpdateNoErrors(live, obj, opts.FieldManager), nil
}
