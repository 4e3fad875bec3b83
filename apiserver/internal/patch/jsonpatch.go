package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kjson "sigs.k8s.io/json"
)

// jsonPatchOp is one RFC 6902 operation, used only to find unknown and duplicate fields in
// the operations themselves under fieldValidation Strict or Warn.
type jsonPatchOp struct {
	Op    string      `json:"op"`
	Path  string      `json:"path"`
	From  string      `json:"from"`
	Value interface{} `json:"value"`
}

// applyJSON applies an RFC 6902 JSON patch or an RFC 7386 merge patch to the JSON form of
// current, decodes the result into a new object of the kind and records the Update.
func (m *Manager) applyJSON(r *request, current runtime.Object) (runtime.Object, []string, error) {
	currentJS, err := json.Marshal(current)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("encoding the live object: %v", err))
	}
	checkFields := r.directive != metav1.FieldValidationIgnore

	var patchedJS []byte
	var strictErrs []error
	if r.patchType == types.JSONPatchType {
		patchedJS, strictErrs, err = applyJSONPatch(currentJS, r.patch, checkFields)
	} else {
		patchedJS, strictErrs, err = applyMergePatch(currentJS, r.patch, checkFields)
	}
	if err != nil {
		return nil, nil, err
	}

	obj, warnings, err := m.decodeInto(r, patchedJS, strictErrs)
	if err != nil {
		return nil, nil, err
	}
	return r.fm.UpdateNoErrors(current, obj, r.opts.FieldManager), warnings, nil
}

// applyJSONPatch applies the RFC 6902 patch to doc. With checkFields it also returns the
// unknown and duplicate fields of the operations, prefixed "json patch".
func applyJSONPatch(doc, patch []byte, checkFields bool) ([]byte, []error, error) {
	var strictErrs []error
	if checkFields {
		var ops []jsonPatchOp
		errs, err := kjson.UnmarshalStrict(patch, &ops)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		for _, e := range errs {
			strictErrs = append(strictErrs, fmt.Errorf("json patch %v", e))
		}
	}
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if len(ops) > maxJSONPatchOperations {
		return nil, nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(ops)))
	}
	if err := checkJSONPatch(ops); err != nil {
		return nil, nil, newUnprocessable(err)
	}
	patched, err := ops.Apply(doc)
	if err != nil {
		return nil, nil, newUnprocessable(err)
	}
	return patched, strictErrs, nil
}

// checkJSONPatch refuses, as a failed operation, the operations that make json-patch.v4
// dereference a nil node instead of failing: a replace or test of the whole document without
// a value, and a value holding null inside an array (the library compares array elements
// without checking for null). The live document holds no such nulls, so once the operations
// add none, no comparison meets one. The reference apiserver panics on them (a 500).
func checkJSONPatch(ops jsonpatch.Patch) error {
	for i, op := range ops {
		kind := op.Kind()
		if kind != "add" && kind != "replace" && kind != "test" {
			continue
		}
		raw, hasValue := op["value"]
		if path, err := op.Path(); err == nil && path == "" && !hasValue && kind != "add" {
			return fmt.Errorf("operation %d: %s of the whole document needs a value", i, kind)
		}
		if !hasValue || raw == nil {
			continue
		}
		var v interface{}
		if err := json.Unmarshal(*raw, &v); err != nil {
			return fmt.Errorf("operation %d: %v", i, err)
		}
		if nullInArray(v, false) {
			return fmt.Errorf("operation %d: value holds null in an array", i)
		}
	}
	return nil
}

// nullInArray reports whether v holds a null element in an array, at any depth.
func nullInArray(v interface{}, inArray bool) bool {
	switch t := v.(type) {
	case nil:
		return inArray
	case map[string]interface{}:
		for _, e := range t {
			if nullInArray(e, false) {
				return true
			}
		}
	case []interface{}:
		for _, e := range t {
			if nullInArray(e, true) {
				return true
			}
		}
	}
	return false
}

// applyMergePatch applies the RFC 7386 merge patch to doc. With checkFields it also returns
// the duplicate fields of the patch.
func applyMergePatch(doc, patch []byte, checkFields bool) ([]byte, []error, error) {
	var strictErrs []error
	if checkFields {
		var v map[string]interface{}
		errs, err := kjson.UnmarshalStrict(patch, &v)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		strictErrs = errs
	}
	patched, err := jsonpatch.MergePatch(doc, patch)
	switch {
	case errors.Is(err, jsonpatch.ErrBadJSONPatch):
		return nil, nil, apierrors.NewBadRequest(err.Error())
	case err != nil:
		return nil, nil, apierrors.NewInternalError(err)
	}
	return patched, strictErrs, nil
}

// decodeInto decodes the patched JSON document into a new object of r's kind, reporting
// unknown fields per r.directive, and applies the scheme's defaults. patchErrs are the strict
// findings already made on the patch itself; they come first, as in the reference.
func (m *Manager) decodeInto(r *request, patchedJS []byte, patchErrs []error) (runtime.Object, []string, error) {
	into, err := m.newObject(r.gvk)
	if err != nil {
		return nil, nil, err
	}
	dec := m.lax
	if r.directive != metav1.FieldValidationIgnore {
		dec = m.strict
	}
	obj, gvk, err := dec.Decode(patchedJS, nil, into)
	var strictErrs []error
	if err != nil {
		se, ok := runtime.AsStrictDecodingError(err)
		if !ok {
			return nil, nil, newInvalidPatch(string(patchedJS), err.Error())
		}
		strictErrs = se.Errors()
	}
	if obj != into {
		return nil, nil, newInvalidPatch(string(patchedJS), fmt.Sprintf("unable to decode %s into %v", gvk, reflect.TypeOf(into)))
	}
	warnings, err := strictOutcome(r.directive, append(patchErrs, strictErrs...), string(patchedJS))
	if err != nil {
		return nil, nil, err
	}
	m.scheme.Default(obj)
	return obj, warnings, nil
}
