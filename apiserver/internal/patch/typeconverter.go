package patch

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v4/schema"
	"sigs.k8s.io/structured-merge-diff/v4/typed"
)

// extraTypesYAML declares, in structured-merge-diff's schema language, the types that the
// apiserver serves but client-go's apply-configuration schema lacks because they have no
// apply configuration: the autoscaling/v1 Scale of the scale subresources. The shapes follow
// the OpenAPI definitions the reference apiserver publishes for them.
const extraTypesYAML = `types:
- name: io.k8s.api.autoscaling.v1.Scale
  map:
    fields:
    - name: apiVersion
      type:
        scalar: string
    - name: kind
      type:
        scalar: string
    - name: metadata
      type:
        namedType: io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta
      default: {}
    - name: spec
      type:
        namedType: io.k8s.api.autoscaling.v1.ScaleSpec
      default: {}
    - name: status
      type:
        namedType: io.k8s.api.autoscaling.v1.ScaleStatus
      default: {}
- name: io.k8s.api.autoscaling.v1.ScaleSpec
  map:
    fields:
    - name: replicas
      type:
        scalar: numeric
- name: io.k8s.api.autoscaling.v1.ScaleStatus
  map:
    fields:
    - name: replicas
      type:
        scalar: numeric
      default: 0
    - name: selector
      type:
        scalar: string
`

// typeConverter converts between the scheme's typed objects and structured-merge-diff typed
// values. It resolves a kind to its schema through the Go type the scheme creates for it, whose
// OpenAPI name (io.k8s.api.apps.v1.Deployment) is derived from the package path, exactly as the
// reference apiserver's definition namer does. It is safe for concurrent use.
type typeConverter struct {
	scheme *runtime.Scheme
	parser *typed.Parser
}

var _ managedfields.TypeConverter = (*typeConverter)(nil)

// newTypeConverter builds a typeConverter from client-go's embedded apply-configuration schema
// (generated from the same OpenAPI definitions as the reference apiserver's) plus extraTypesYAML.
func newTypeConverter(scheme *runtime.Scheme) (*typeConverter, error) {
	base, ok := applyconfigurations.NewTypeConverter(scheme).TypeResolver.(*typed.Parser)
	if !ok {
		return nil, fmt.Errorf("client-go's apply-configuration type resolver is %T, not *typed.Parser",
			applyconfigurations.NewTypeConverter(scheme).TypeResolver)
	}
	extra, err := typed.NewParser(typed.YAMLObject(extraTypesYAML))
	if err != nil {
		return nil, fmt.Errorf("parsing the extra schema types: %v", err)
	}
	known := make(map[string]bool, len(base.Schema.Types))
	types := make([]smdschema.TypeDef, 0, len(base.Schema.Types)+len(extra.Schema.Types))
	for _, td := range base.Schema.Types {
		known[td.Name] = true
		types = append(types, td)
	}
	for _, td := range extra.Schema.Types {
		if !known[td.Name] {
			types = append(types, td)
		}
	}
	return &typeConverter{scheme: scheme, parser: &typed.Parser{Schema: smdschema.Schema{Types: types}}}, nil
}

// ObjectToTyped converts obj, whose kind must be set, to a typed value of its schema type.
func (c *typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	example, err := c.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	t := c.parser.Type(openAPIName(example))
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return t.FromUnstructured(u.UnstructuredContent(), opts...)
	}
	return t.FromStructured(obj, opts...)
}

// TypedToObject converts a typed value back to an unstructured object.
func (c *typeConverter) TypedToObject(value *typed.TypedValue) (runtime.Object, error) {
	u, ok := value.AsValue().Unstructured().(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("typed value is %T, not an object", value.AsValue().Unstructured())
	}
	return &unstructured.Unstructured{Object: u}, nil
}

// hasSchema reports whether the converter knows a schema for example's Go type.
func (c *typeConverter) hasSchema(example runtime.Object) bool {
	name := openAPIName(example)
	_, ok := c.parser.Schema.FindNamedType(name)
	return ok
}

// openAPIName returns the OpenAPI definition name of obj's Go type: the package path with its
// domain reversed, then the type name (k8s.io/api/apps/v1.Deployment becomes
// io.k8s.api.apps.v1.Deployment).
func openAPIName(obj runtime.Object) string {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	parts := strings.Split(t.PkgPath(), "/")
	if len(parts) > 0 && strings.Contains(parts[0], ".") {
		domain := strings.Split(parts[0], ".")
		for i, j := 0, len(domain)-1; i < j; i, j = i+1, j-1 {
			domain[i], domain[j] = domain[j], domain[i]
		}
		parts[0] = strings.Join(domain, ".")
	}
	return strings.Join(parts, ".") + "." + t.Name()
}
