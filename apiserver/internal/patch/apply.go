package patch

import (
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// applyServerSide runs a server-side apply of r's patch (an apply configuration in YAML or
// JSON) on current by r.opts.FieldManager: fields the manager applies become its own, fields
// it applied before and omits now are removed unless another manager owns them, and a field
// another manager owns with a different value is a conflict unless r.opts.Force.
func (m *Manager) applyServerSide(r *request, current runtime.Object) (runtime.Object, []string, error) {
	applied := &unstructured.Unstructured{Object: map[string]interface{}{}}
	if err := yaml.Unmarshal(r.patch, &applied.Object); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if err := m.checkApplied(r, applied); err != nil {
		return nil, nil, err
	}

	obj, err := r.fm.Apply(current, applied, r.opts.FieldManager, r.opts.Force)
	if err != nil {
		var se *apierrors.StatusError
		if errors.As(err, &se) {
			sortCauses(se)
			return nil, nil, se
		}
		if cerr := m.checkConvertible(r, applied); cerr != nil {
			return nil, nil, cerr
		}
		return nil, nil, apierrors.NewInternalError(err)
	}

	var finding error
	if r.directive != metav1.FieldValidationIgnore {
		finding = yaml.UnmarshalStrict(r.patch, &map[string]interface{}{})
	}
	warnings, err := strictApplyOutcome(r.directive, finding)
	if err != nil {
		return nil, nil, err
	}
	return obj, warnings, nil
}

// checkApplied runs, in the reference's order, the checks the field manager makes on an apply
// configuration, so that the ones the reference answers with a bare 500 get a 400 here:
// the kind and version, the absence of managedFields, and conformance to the kind's schema
// (no unknown fields, no duplicate list keys, values of the right types).
func (m *Manager) checkApplied(r *request, applied *unstructured.Unstructured) error {
	if gvk := applied.GroupVersionKind(); gvk != r.gvk {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid object type: %v", gvk))
	}
	if applied.GetManagedFields() != nil {
		return apierrors.NewBadRequest("metadata.managedFields must be nil")
	}
	if _, err := m.converter.ObjectToTyped(applied); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("failed to create typed patch object (%s): %v", describe(applied), err))
	}
	return nil
}

// checkConvertible reports, as a 400, an apply configuration that conforms to the schema but
// does not convert to the kind's Go type (a fractional replica count, say), which makes the
// field manager fail after merging.
func (m *Manager) checkConvertible(r *request, applied *unstructured.Unstructured) error {
	into, err := m.newObject(r.gvk)
	if err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(applied.Object, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("failed to convert new object (%s) to proper version (%s): %v",
			describe(applied), r.gvk.GroupVersion(), err))
	}
	return nil
}

// sortCauses orders the causes of a conflict error by field path. The field manager lists them
// in map iteration order; the order carries no meaning, and a stable one makes responses
// reproducible.
func sortCauses(se *apierrors.StatusError) {
	if se.ErrStatus.Details == nil {
		return
	}
	causes := se.ErrStatus.Details.Causes
	sort.SliceStable(causes, func(i, j int) bool {
		if causes[i].Field != causes[j].Field {
			return causes[i].Field < causes[j].Field
		}
		return causes[i].Message < causes[j].Message
	})
}

// describe names an object as the field manager's messages do: namespace/name; kind.
func describe(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%s/%s; %v", u.GetNamespace(), u.GetName(), u.GroupVersionKind())
}
