package openapi

import (
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/common"
)

// Shared parameters. Their descriptions are our own; the options types' query
// parameters take theirs from the types' SwaggerDoc.
var (
	prettyParam = parameter{
		name:        "pretty",
		description: "If 'true', the output is pretty printed.",
		kind:        common.QueryParameterKind,
		dataType:    "string",
	}
	namespaceParam = parameter{
		name:        "namespace",
		description: "namespace of the object",
		required:    true,
		kind:        common.PathParameterKind,
		dataType:    "string",
	}
)

// nameParam returns the {name} path parameter of an object of kind.
func nameParam(kind string) parameter {
	return parameter{
		name:        "name",
		description: "name of the " + kind,
		required:    true,
		kind:        common.PathParameterKind,
		dataType:    "string",
	}
}

// bodyParam returns the body parameter.
func bodyParam(required bool) parameter {
	return parameter{name: "body", required: required, kind: common.BodyParameterKind}
}

// Options types whose fields become query parameters.
var (
	listOptionsParams   = optionParams(metav1.ListOptions{})
	createOptionsParams = optionParams(metav1.CreateOptions{})
	updateOptionsParams = optionParams(metav1.UpdateOptions{})
	patchOptionsParams  = optionParams(metav1.PatchOptions{})
	deleteOptionsParams = optionParams(metav1.DeleteOptions{})
	// deleteCollectionListParams are the list parameters of deletecollection,
	// which neither watches nor sends bookmarks.
	deleteCollectionListParams = without(listOptionsParams, "watch", "allowWatchBookmarks")
)

// swaggerDocer is implemented by API types with generated field docs.
type swaggerDocer interface {
	SwaggerDoc() map[string]string
}

// optionParams turns the top-level fields of an options struct into query
// parameters, as the apiserver's parameter codec reads them: one parameter
// per JSON field name, of the field's simple type. Struct fields
// (TypeMeta, Preconditions) are skipped, except metav1.Time, which travels
// as a string.
func optionParams(options interface{}) []common.Parameter {
	var docs map[string]string
	if d, ok := options.(swaggerDocer); ok {
		docs = d.SwaggerDoc()
	}
	t := reflect.TypeOf(options)
	var params []common.Parameter
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		dataType := queryType(f.Type)
		if dataType == "" {
			continue
		}
		params = append(params, parameter{
			name:        name,
			description: docs[name],
			kind:        common.QueryParameterKind,
			dataType:    dataType,
		})
	}
	return params
}

// timeType is metav1.Time, a struct that travels as an RFC 3339 string.
var timeType = reflect.TypeOf(metav1.Time{})

// queryType returns the OpenAPI simple type of a query parameter of Go type
// t, or "" when t cannot be a query parameter. Slices are repeated
// parameters of their element's type.
func queryType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "string"
	}
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	default:
		return ""
	}
}

// without returns params minus the named ones.
func without(params []common.Parameter, names ...string) []common.Parameter {
	var out []common.Parameter
	for _, p := range params {
		if !slices.Contains(names, p.Name()) {
			out = append(out, p)
		}
	}
	return out
}

// join concatenates parameter lists into a new slice.
func join(lists ...[]common.Parameter) []common.Parameter {
	var out []common.Parameter
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
