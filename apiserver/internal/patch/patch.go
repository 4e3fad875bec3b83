package patch

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// request holds one Patch call's inputs once they are checked.
type request struct {
	fm        *fieldManager
	gvk       schema.GroupVersionKind
	patchType types.PatchType
	patch     []byte
	opts      Options
	directive string // fieldValidation with the default applied
}

// Patch applies patch, of type pt, to live and returns the resulting object with its
// managedFields updated. gvk is the kind of the object (autoscaling/v1 Scale for the scale
// subresource). live is not modified.
//
// live is nil when the object does not exist: an apply patch to the main resource then creates
// it (Result.Created); every other patch fails with 404 NotFound. Patch neither validates the
// object nor runs registry strategies, and it leaves resourceVersion alone: a resourceVersion
// the patch sets stays in the result, where the caller checks it as a precondition. Patch is
// safe for concurrent use.
//
// Errors a client can cause are *apierrors.StatusError values carrying the reference
// apiserver's codes: 415 for an unknown patch type, 400 for an undecodable patch or a
// name or namespace change, 413 for a JSON patch of more than 10000 operations, 422 for
// invalid options, a failed JSON patch operation or test, a patched document that does not
// decode into the kind, and strict field validation failures, 409 with FieldManagerConflict
// causes for apply conflicts, 404 for non-apply patches of a missing object. ErrUnknownKind
// and ErrWrongType report misuse by the caller.
func (m *Manager) Patch(live runtime.Object, gvk schema.GroupVersionKind, pt types.PatchType, patch []byte, opts Options) (Result, error) {
	pt = normalizePatchType(pt)
	if !isSupported(pt) {
		return Result{}, newUnsupportedMediaType()
	}
	po := &metav1.PatchOptions{FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation}
	if opts.Force {
		po.Force = &opts.Force
	}
	if errs := metavalidation.ValidatePatchOptions(po, pt); len(errs) > 0 {
		return Result{}, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("PatchOptions").GroupKind(), "", errs)
	}
	fm, err := m.fieldManager(gvk, opts.Subresource)
	if err != nil {
		return Result{}, err
	}
	r := &request{fm: fm, gvk: gvk, patchType: pt, patch: patch, opts: opts, directive: opts.FieldValidation}
	if r.directive == "" {
		r.directive = metav1.FieldValidationWarn
	}

	if isNil(live) {
		live = nil
	}
	var current runtime.Object
	if live != nil {
		if err := fm.checkType("live", live); err != nil {
			return Result{}, err
		}
		current = live.DeepCopyObject()
		current.GetObjectKind().SetGroupVersionKind(gvk)
	} else {
		// Only an apply patch to the main resource creates: subresource endpoints refuse to.
		if pt != types.ApplyYAMLPatchType || opts.Subresource != "" {
			return Result{}, apierrors.NewNotFound(opts.Resource, opts.Name)
		}
		if current, err = m.newObject(gvk); err != nil {
			return Result{}, err
		}
	}

	obj, warnings, err := m.apply(r, current)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkIdentity(obj, live == nil); err != nil {
		return Result{}, err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return Result{Object: obj, Created: live == nil, Warnings: warnings}, nil
}

// apply runs the patch mechanism of r's patch type on current, turning a panic in the
// libraries into a 500.
func (m *Manager) apply(r *request, current runtime.Object) (obj runtime.Object, warnings []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, warnings, err = nil, nil, newPanicError(string(r.patchType)+" patch", p)
		}
	}()
	switch r.patchType {
	case types.JSONPatchType, types.MergePatchType:
		return m.applyJSON(r, current)
	case types.StrategicMergePatchType:
		return m.applyStrategic(r, current)
	default:
		return m.applyServerSide(r, current)
	}
}

// checkIdentity runs the reference apiserver's checks on a patched object: an apply patch that
// creates must not carry a uid, and name and namespace must match the request path.
func (r *request) checkIdentity(obj runtime.Object, creating bool) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if creating && accessor.GetUID() != "" {
		return apierrors.NewConflict(r.opts.Resource, r.opts.Name, fmt.Errorf(
			"uid mismatch: the provided object specified uid %s, and no existing object was found", accessor.GetUID()))
	}
	if r.opts.Name == "" {
		return nil
	}
	switch ns := accessor.GetNamespace(); {
	case ns == r.opts.Namespace:
	case ns == metav1.NamespaceNone:
		accessor.SetNamespace(r.opts.Namespace)
	case r.opts.Namespace == metav1.NamespaceNone:
		accessor.SetNamespace(metav1.NamespaceNone)
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if name := accessor.GetName(); name != r.opts.Name {
		return apierrors.NewBadRequest(fmt.Sprintf(
			"the name of the object (%s) does not match the name on the URL (%s)", name, r.opts.Name))
	}
	return nil
}

// normalizePatchType strips media type parameters ("; charset=utf-8") as the reference does.
func normalizePatchType(pt types.PatchType) types.PatchType {
	s := string(pt)
	if i := strings.Index(s, ";"); i > 0 {
		s = s[:i]
	}
	return types.PatchType(strings.TrimSpace(s))
}

// isSupported reports whether pt is one of the four patch types served.
func isSupported(pt types.PatchType) bool {
	for _, s := range supportedPatchTypes {
		if pt == s {
			return true
		}
	}
	return false
}
