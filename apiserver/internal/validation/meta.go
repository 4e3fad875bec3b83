package validation

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NameFunc checks a resource name; prefix is true when the value is a
// generateName prefix. It returns one message per problem.
type NameFunc = apivalidation.ValidateNameFunc

// Name rules of the resources, as Kubernetes defines them.
var (
	// NameIsDNSSubdomain accepts RFC 1123 subdomains; most resources use it.
	NameIsDNSSubdomain NameFunc = apivalidation.NameIsDNSSubdomain
	// NameIsDNSLabel accepts RFC 1123 labels: namespaces, StatefulSets.
	NameIsDNSLabel NameFunc = apivalidation.NameIsDNSLabel
	// NameIsDNS1035Label accepts RFC 1035 labels: Services.
	NameIsDNS1035Label NameFunc = apivalidation.NameIsDNS1035Label
	// NameIsPathSegment accepts any name usable as a URL path segment: RBAC
	// roles and bindings.
	NameIsPathSegment NameFunc = func(name string, prefix bool) []string {
		return path.IsValidPathSegmentName(name)
	}
)

const (
	// fieldImmutable is Kubernetes' message for a changed immutable field.
	fieldImmutable = apivalidation.FieldImmutableErrorMsg
	// isNegative is Kubernetes' message for a negative value.
	isNegative = apivalidation.IsNegativeErrorMsg
	// notPositive is Kubernetes' message for a value that must be positive.
	notPositive = "must be greater than zero"
)

// standardFinalizers are the finalizer names that need no domain prefix.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

// ObjectMeta validates the metadata of a new object: name (or generateName)
// with nameFn, namespace presence (required when requiresNamespace, forbidden
// otherwise), labels, annotations (256 KiB in total), owner references,
// finalizers and managed fields, as Kubernetes' core ValidateObjectMeta does.
// It expects name generation to have happened already.
func ObjectMeta(m *metav1.ObjectMeta, requiresNamespace bool, nameFn NameFunc, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(m, requiresNamespace, nameFn, fldPath)
	for i, f := range m.Finalizers {
		errs = append(errs, kubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// ObjectMetaUpdate validates metadata on update: immutable name, namespace,
// UID, creation and deletion timestamps, a resourceVersion that must be set,
// a generation that may not decrease, no new finalizers once deletion started,
// and the label, annotation and finalizer rules of ObjectMeta.
func ObjectMetaUpdate(m, old *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(m, old, fldPath)
	for i, f := range m.Finalizers {
		errs = append(errs, kubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return errs
}

// kubeFinalizerName rejects unqualified finalizer names other than the
// standard ones.
func kubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// finalizerName validates a namespace spec finalizer.
func finalizerName(name string, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateFinalizerName(name, fldPath)
	return append(errs, kubeFinalizerName(name, fldPath)...)
}

// templateObjectMeta validates the labels and annotations of an embedded
// object template and forbids every other metadata field.
func templateObjectMeta(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateAnnotations(m.Annotations, fldPath.Child("annotations"))
	errs = append(errs, metavalidation.ValidateLabels(m.Labels, fldPath.Child("labels"))...)
	rest := m.DeepCopy()
	rest.Labels, rest.Annotations = nil, nil
	if rest.Name != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("name"), "cannot be set"))
	}
	if rest.GenerateName != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("generateName"), "cannot be set"))
	}
	if rest.Namespace != "" {
		errs = append(errs, field.Forbidden(fldPath.Child("namespace"), "cannot be set"))
	}
	if len(rest.Finalizers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("finalizers"), "cannot be set"))
	}
	if len(rest.OwnerReferences) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("ownerReferences"), "cannot be set"))
	}
	return errs
}

// nameErrors turns the messages of nameFn for value into Invalid errors.
func nameErrors(nameFn NameFunc, value string, prefix bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range nameFn(value, prefix) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// requiredOneOf checks a required enumerated value: empty is Required, and
// anything but one of supported is NotSupported.
func requiredOneOf[T ~string](v T, supported []T, fldPath *field.Path) field.ErrorList {
	switch {
	case slices.Contains(supported, v):
		return nil
	case v == "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, v, supported)}
	}
}

func nonNegative(v int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, fldPath)
}

func immutable(newVal, oldVal interface{}, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

func dnsLabel(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

func dnsSubdomain(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

func qualifiedName(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

func labelSelector(s *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(s, metavalidation.LabelSelectorValidationOptions{}, fldPath)
}

// isDecremented reports whether a counter went down or was removed.
func isDecremented(update, old *int32) bool {
	if update == nil && old != nil {
		return true
	}
	if update == nil || old == nil {
		return false
	}
	return *update < *old
}

// sortedKeys returns the keys of m in order, so errors come out in a stable
// order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// typeMismatch reports an update whose old object is not of the new object's
// type, which is a programming error of the caller.
func typeMismatch(obj, old interface{}) field.ErrorList {
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("validation: old object is %T, want %T", old, obj))}
}
