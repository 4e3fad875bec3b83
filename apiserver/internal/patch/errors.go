package patch

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Errors that are not about the request but about how the caller uses the Manager. They are
// returned wrapped with the offending kind or type; the apiserver maps them to 500.
// Everything a client can cause is a *k8s.io/apimachinery/pkg/api/errors.StatusError instead.
var (
	// ErrUnknownKind is returned for a kind that the Manager's scheme does not know or for
	// which no structured-merge-diff schema exists.
	ErrUnknownKind = errors.New("patch: unknown kind")
	// ErrWrongType is returned when the live or new object is not of the Go type the scheme
	// creates for the given kind.
	ErrWrongType = errors.New("patch: object type does not match kind")
)

// supportedPatchTypes lists the patch types in the order the reference apiserver lists them
// in its 415 message.
var supportedPatchTypes = []types.PatchType{
	types.JSONPatchType,
	types.MergePatchType,
	types.StrategicMergePatchType,
	types.ApplyYAMLPatchType,
}

// newUnsupportedMediaType returns the reference apiserver's 415 for an unknown patch type.
func newUnsupportedMediaType() *apierrors.StatusError {
	accepted := ""
	for i, pt := range supportedPatchTypes {
		if i > 0 {
			accepted += ", "
		}
		accepted += string(pt)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: " + accepted,
	}}
}

// newUnprocessable returns the reference apiserver's bare 422 for a patch that cannot be
// applied (a failed JSON patch operation, an SMP list of lists): reason Invalid with a generic
// message; the library's error text is not sent, exactly as the reference does.
func newUnprocessable(err error) *apierrors.StatusError {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
}

// newInvalidPatch returns the 422 Invalid the reference apiserver sends when the patched
// document does not decode into the kind: a single error on field "patch" whose value is the
// patched document (JSON and merge patches) or the patch map (strategic merge patches).
func newInvalidPatch(value string, detail string) *apierrors.StatusError {
	return apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{
		field.Invalid(field.NewPath("patch"), value, detail),
	})
}

// newPanicError turns a recovered panic into a 500. Every panic path known in the patch
// libraries is guarded before it is reached; this is the last resort.
func newPanicError(what string, r any) *apierrors.StatusError {
	return apierrors.NewInternalError(fmt.Errorf("%s: recovered from panic: %v", what, r))
}
