package patch

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kjson "sigs.k8s.io/json"
)

// applyStrategic applies a strategic merge patch (the patch kubectl apply, edit and rollout
// restart send) to current, using the patch strategies and merge keys of the kind's Go struct
// tags, and records the Update.
func (m *Manager) applyStrategic(r *request, current runtime.Object) (runtime.Object, []string, error) {
	originalMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(current)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("converting the live object: %v", err))
	}

	checkFields := r.directive != metav1.FieldValidationIgnore
	patchMap := map[string]interface{}{}
	var patchErrs []error
	if checkFields {
		patchErrs, err = kjson.UnmarshalStrict(r.patch, &patchMap)
	} else {
		err = kjson.UnmarshalCaseSensitivePreserveInts(r.patch, &patchMap)
	}
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	schemaObj, err := m.newObject(r.gvk)
	if err != nil {
		return nil, nil, err
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(schemaObj)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	if err := checkStrategicPatch(patchMap, meta); err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	patchedMap, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(originalMap, patchMap, meta)
	if err != nil {
		return nil, nil, strategicPatchError(err)
	}

	obj, err := m.newObject(r.gvk)
	if err != nil {
		return nil, nil, err
	}
	var strictErrs []error
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(patchedMap, obj, checkFields); err != nil {
		se, ok := runtime.AsStrictDecodingError(err)
		if !ok {
			return nil, nil, newInvalidPatch(fmt.Sprintf("%+v", patchMap), err.Error())
		}
		strictErrs = se.Errors()
	}
	warnings, err := strictOutcome(r.directive, append(patchErrs, strictErrs...), fmt.Sprintf("%+v", patchMap))
	if err != nil {
		return nil, nil, err
	}
	m.scheme.Default(obj)
	return r.fm.UpdateNoErrors(current, obj, r.opts.FieldManager), warnings, nil
}

// strategicPatchError maps a strategic merge patch failure to the reference apiserver's
// status: 400 for malformed directives, 422 for patches the object cannot take. Errors the
// reference passes through as 500 (unknown fields in directives, wrong value types) are
// caused by the patch alone, since the live object is well formed, and become 400 here.
func strategicPatchError(err error) error {
	switch {
	case errors.Is(err, mergepatch.ErrNoListOfLists), errors.Is(err, mergepatch.ErrPatchContentNotMatchRetainKeys):
		return newUnprocessable(err)
	default:
		return apierrors.NewBadRequest(err.Error())
	}
}

// checkStrategicPatch rejects, with a 400-worthy error, patches that would make the strategic
// merge patch library panic instead of failing. The library hashes and compares values of the
// patch with Go's map keys and ==, which panics on JSON objects and arrays, and it takes the
// type of a list's first element without checking for null. So, walking the patch along
// meta, the Go struct's patch metadata:
//   - $retainKeys and $deleteFromPrimitiveList/* elements must be scalars;
//   - the elements of a $setElementOrder/* list, and of a list that is merged or ordered by
//     one, must not be null, must be scalars for a list of scalars, and must carry a scalar
//     merge key for a list of objects.
//
// The reference apiserver panics on such patches (a 500). When the live object lacks the
// list, it may instead take the patch list as is and fail decoding (422).
func checkStrategicPatch(patch map[string]interface{}, meta strategicpatch.LookupPatchMeta) error {
	for k, v := range patch {
		switch {
		case k == "$retainKeys":
			if !allScalars(v) {
				return mergepatch.ErrBadPatchFormatForRetainKeys
			}
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			if !allScalars(v) {
				return mergepatch.ErrBadPatchFormatForPrimitiveList
			}
		case strings.HasPrefix(k, "$setElementOrder/"):
			_, pm, err := meta.LookupPatchMetadataForSlice(strings.TrimPrefix(k, "$setElementOrder/"))
			if err != nil {
				continue // the library reports the unknown field
			}
			if err := checkListElements(k, v, pm.GetPatchMergeKey()); err != nil {
				return mergepatch.ErrBadPatchFormatForSetElementOrderList
			}
		case strings.HasPrefix(k, "$"):
		default:
			switch child := v.(type) {
			case map[string]interface{}:
				sub, _, err := meta.LookupPatchMetadataForStruct(k)
				if err != nil {
					continue
				}
				if err := checkStrategicPatch(child, sub); err != nil {
					return err
				}
			case []interface{}:
				sub, pm, err := meta.LookupPatchMetadataForSlice(k)
				if err != nil {
					continue
				}
				if _, ordered := patch["$setElementOrder/"+k]; !ordered && !isMergeList(pm.GetPatchStrategies()) {
					continue // replaced as a whole, never compared
				}
				if err := checkListElements(k, child, pm.GetPatchMergeKey()); err != nil {
					return err
				}
				for _, e := range child {
					if m, ok := e.(map[string]interface{}); ok {
						if err := checkStrategicPatch(m, sub); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// checkListElements checks the elements of the list key, whose objects have the merge key
// mergeKey ("" for a list of scalars): no null, scalars only in a list of scalars, a scalar
// merge key in objects.
func checkListElements(key string, list interface{}, mergeKey string) error {
	elems, ok := list.([]interface{})
	if !ok {
		return nil // the library reports the type error
	}
	for _, e := range elems {
		switch {
		case e == nil:
			return fmt.Errorf("list %s must not contain null", key)
		case mergeKey == "":
			if !isScalar(e) {
				return fmt.Errorf("list %s must hold scalars", key)
			}
		default:
			if m, ok := e.(map[string]interface{}); ok && !isScalar(m[mergeKey]) {
				return fmt.Errorf("merge key %s of the elements of %s must be a scalar", mergeKey, key)
			}
		}
	}
	return nil
}

// isMergeList reports whether a list's patch strategies include merge.
func isMergeList(strategies []string) bool {
	for _, s := range strategies {
		if s == "merge" {
			return true
		}
	}
	return false
}

// allScalars reports whether v is a list of scalars (or not a list, which the library rejects).
func allScalars(v interface{}) bool {
	list, ok := v.([]interface{})
	if !ok {
		return true
	}
	for _, e := range list {
		if !isScalar(e) {
			return false
		}
	}
	return true
}

// isScalar reports whether a decoded JSON value is comparable with ==: not an object or array.
func isScalar(v interface{}) bool {
	switch v.(type) {
	case map[string]interface{}, []interface{}:
		return false
	}
	return true
}
