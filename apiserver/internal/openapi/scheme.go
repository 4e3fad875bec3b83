package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// extensionGVK is the vendor extension that ties a definition or an operation
// to the group-version-kinds it serves.
const extensionGVK = "x-kubernetes-group-version-kind"

// addToScheme registers the group versions whose Go types openapi-gen compiles
// into zz_generated.openapi.go. Keep it in step with the go:generate directive
// in generate.go; TestGenerateDirectiveCoversScheme checks that it is.
var addToScheme = []func(*runtime.Scheme) error{
	corev1.AddToScheme,
	appsv1.AddToScheme,
	batchv1.AddToScheme,
	autoscalingv1.AddToScheme,
	policyv1.AddToScheme,
	discoveryv1.AddToScheme,
	rbacv1.AddToScheme,
	coordinationv1.AddToScheme,
}

// catalog maps kinds to Go type names and names definitions the way the
// reference apiserver does. It is immutable after newCatalog returns.
type catalog struct {
	scheme *runtime.Scheme
	// kinds maps a Go type name (k8s.io/api/apps/v1.Deployment) to every
	// group-version-kind registered for that type, sorted.
	kinds map[string][]schema.GroupVersionKind
	// defined holds the Go type names that have a generated definition.
	defined map[string]bool
}

// sharedCatalog returns the process-wide catalog; building it once is enough
// because its inputs are compiled in.
var sharedCatalog = sync.OnceValues(newCatalog)

// newCatalog builds the catalog from the served group versions and the
// generated definitions.
func newCatalog() (*catalog, error) {
	s := runtime.NewScheme()
	for _, add := range addToScheme {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("openapi: building scheme: %v", err)
		}
	}
	c := &catalog{
		scheme:  s,
		kinds:   map[string][]schema.GroupVersionKind{},
		defined: map[string]bool{},
	}
	for gvk, t := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		name := goTypeName(t)
		c.kinds[name] = append(c.kinds[name], gvk)
	}
	for _, gvks := range c.kinds {
		sort.Slice(gvks, func(i, j int) bool {
			a, b := gvks[i], gvks[j]
			if a.Group != b.Group {
				return a.Group < b.Group
			}
			if a.Version != b.Version {
				return a.Version < b.Version
			}
			return a.Kind < b.Kind
		})
	}
	for name := range GetOpenAPIDefinitions(func(string) spec.Ref { return spec.Ref{} }) {
		c.defined[name] = true
	}
	return c, nil
}

// goTypeName returns the name openapi-gen keys a Go type's definition by: its
// package path, a dot and its name.
func goTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() + "." + t.Name()
}

// typeName returns the Go type name of gvk's definition. It fails with
// ErrUnknownKind when the kind is not registered or has no definition.
func (c *catalog) typeName(gvk schema.GroupVersionKind) (string, error) {
	t, ok := c.scheme.AllKnownTypes()[gvk]
	if !ok {
		return "", fmt.Errorf("%w: %s is not in a served group version", ErrUnknownKind, gvk)
	}
	name := goTypeName(t)
	if !c.defined[name] {
		return "", fmt.Errorf("%w: %s (%s) has no generated definition", ErrUnknownKind, gvk, name)
	}
	return name, nil
}

// kindOf returns the group-version-kind the scheme registers obj under in
// group version gv.
func (c *catalog) kindOf(obj runtime.Object, gv schema.GroupVersion) (schema.GroupVersionKind, error) {
	gvks, _, err := c.scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("%w: %v", ErrUnknownKind, err)
	}
	for _, gvk := range gvks {
		if gvk.GroupVersion() == gv {
			return gvk, nil
		}
	}
	return schema.GroupVersionKind{}, fmt.Errorf("%w: %T is not registered in %s", ErrUnknownKind, obj, gv)
}

// definitionName names the definition of the Go type name as the reference
// apiserver does (io.k8s.api.apps.v1.Deployment) and, for a type registered
// as one or more kinds, lists them in the x-kubernetes-group-version-kind
// extension, which kubectl and the server-side-apply type converter use to
// find a kind's schema.
func (c *catalog) definitionName(name string) (string, spec.Extensions) {
	friendly := util.ToRESTFriendlyName(name)
	gvks := c.kinds[name]
	if len(gvks) == 0 {
		return friendly, nil
	}
	list := make([]interface{}, 0, len(gvks))
	for _, gvk := range gvks {
		list = append(list, map[string]interface{}{
			"group":   gvk.Group,
			"version": gvk.Version,
			"kind":    gvk.Kind,
		})
	}
	return friendly, spec.Extensions{extensionGVK: list}
}

// definitions returns the generated definitions with references in the form
// refPrefix + definition name, such as "#/components/schemas/".
func (c *catalog) definitions(refPrefix string) map[string]common.OpenAPIDefinition {
	return GetOpenAPIDefinitions(func(name string) spec.Ref {
		friendly, _ := c.definitionName(name)
		return spec.MustCreateRef(refPrefix + common.EscapeJsonPointer(friendly))
	})
}

// allKindTypeNames returns, sorted, the Go type names of every registered
// kind that has a generated definition.
func (c *catalog) allKindTypeNames() []string {
	var names []string
	for name := range c.kinds {
		if c.defined[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
