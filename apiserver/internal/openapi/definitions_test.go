package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenSchemas are the definitions pinned in testdata/schemas.golden.json:
// a kind, types with hand-written schemas, and the types holding the fields
// whose types are Go aliases, which openapi-gen warns about.
var goldenSchemas = []string{
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.apps.v1.DeploymentStrategy",
	"io.k8s.api.autoscaling.v1.Scale",
	"io.k8s.api.core.v1.ServiceSpec",
	"io.k8s.apimachinery.pkg.api.resource.Quantity",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString",
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run the test with -update to create it): %v", path, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); if zz_generated.openapi.go was regenerated on purpose, run the test with -update:\n%s", path, diff)
	}
}

// models returns Models() or fails the test.
func models(t *testing.T) map[string]*spec.Schema {
	t.Helper()
	m, err := Models()
	if err != nil {
		t.Fatalf("Models() = %v", err)
	}
	return m
}

func TestGoldenSchemas(t *testing.T) {
	m := models(t)
	selected := map[string]*spec.Schema{}
	for _, name := range goldenSchemas {
		s, ok := m[name]
		if !ok {
			t.Fatalf("Models() has no %s", name)
		}
		selected[name] = s
	}
	got, err := json.MarshalIndent(selected, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "schemas.golden.json", append(got, '\n'))
}

// TestGoldenHash pins every generated schema: any change to
// zz_generated.openapi.go or to the naming of definitions changes the hash.
func TestGoldenHash(t *testing.T) {
	m := models(t)
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		b, err := json.Marshal(m[name])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %s\n", name, b)
	}
	checkGolden(t, "models.sha256", fmt.Appendf(nil, "%x  %d schemas\n", h.Sum(nil), len(names)))
}

// TestAliasedFieldSchemas checks the fields whose enum types have Go aliases
// (IPFamilyPolicyType = IPFamilyPolicy and the traffic policies), which
// openapi-gen reports as "unsupported type entry": the fields must still be
// plain strings with their enum values.
func TestAliasedFieldSchemas(t *testing.T) {
	serviceSpec := models(t)["io.k8s.api.core.v1.ServiceSpec"]
	if serviceSpec == nil {
		t.Fatal("Models() has no io.k8s.api.core.v1.ServiceSpec")
	}
	tests := []struct {
		field string
		want  []interface{}
	}{
		{field: "ipFamilyPolicy", want: []interface{}{"PreferDualStack", "RequireDualStack", "SingleStack"}},
		{field: "externalTrafficPolicy", want: []interface{}{"Cluster", "Local"}},
		{field: "internalTrafficPolicy", want: []interface{}{"Cluster", "Local"}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			prop, ok := serviceSpec.Properties[tt.field]
			if !ok {
				t.Fatalf("ServiceSpec has no property %s", tt.field)
			}
			if got := prop.Type; !slices.Equal(got, []string{"string"}) || prop.Ref.String() != "" {
				t.Errorf("ServiceSpec.%s type = %v, ref %q; want [string] and no ref", tt.field, got, prop.Ref.String())
			}
			if diff := cmp.Diff(tt.want, prop.Enum); diff != "" {
				t.Errorf("ServiceSpec.%s enum (-want +got):\n%s", tt.field, diff)
			}
		})
	}
}

// TestDefinitionDependencies checks that every definition's dependencies are
// themselves defined, so that no served document has a dangling reference.
func TestDefinitionDependencies(t *testing.T) {
	// InternalEvent is the internal form of WatchEvent; its object is the Go
	// interface runtime.Object, which has no schema. No kind uses it.
	const internalEvent = "k8s.io/apimachinery/pkg/apis/meta/v1.InternalEvent"
	defs := Definitions()
	for name, def := range defs {
		if name == internalEvent {
			continue
		}
		for _, dep := range def.Dependencies {
			if _, ok := defs[dep]; !ok {
				t.Errorf("definition %s depends on %s, which is not generated", name, dep)
			}
		}
	}
}

// customSchemaMethods are the methods by which a type supplies its own
// schema instead of one derived from its fields.
var customSchemaMethods = []string{"OpenAPIDefinition", "OpenAPISchemaType", "OpenAPIV3Definition"}

// hasCustomSchema reports whether t supplies its own schema.
func hasCustomSchema(t reflect.Type) bool {
	for _, m := range customSchemaMethods {
		if _, ok := t.MethodByName(m); ok {
			return true
		}
		if _, ok := reflect.PointerTo(t).MethodByName(m); ok {
			return true
		}
	}
	return false
}

// jsonFields returns the JSON names of struct t's fields, inlining embedded
// and ",inline" fields as encoding/json does.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			names = append(names, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// TestDefinitionsMatchGoTypes catches a stale zz_generated.openapi.go: for
// every struct reachable from a served kind, the generated schema's
// properties must be the Go type's JSON fields in the k8s.io/api and
// k8s.io/apimachinery versions this module builds with.
func TestDefinitionsMatchGoTypes(t *testing.T) {
	cat, err := sharedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	defs := Definitions()
	seen := map[reflect.Type]bool{}
	var visit func(reflect.Type)
	visit = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map || typ.Kind() == reflect.Array {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		name := goTypeName(typ)
		def, ok := defs[name]
		if !ok {
			t.Errorf("no generated definition for %s", name)
			return
		}
		if hasCustomSchema(typ) {
			return
		}
		var props []string
		for p := range def.Schema.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		fields := jsonFields(typ)
		sort.Strings(fields)
		if diff := cmp.Diff(fields, props); diff != "" {
			t.Errorf("definition of %s does not match its Go fields (-go +generated); regenerate with go generate:\n%s", name, diff)
		}
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() || f.Anonymous {
				visit(f.Type)
			}
		}
	}
	for gvk, typ := range cat.scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		if _, ok := defs[goTypeName(typ)]; !ok {
			// Kinds openapi-gen skips, such as the meta/v1 options kinds
			// marked +k8s:openapi-gen=false, are not served as bodies.
			continue
		}
		visit(typ)
	}
	if len(seen) < 300 {
		t.Errorf("visited %d types; want the whole served API", len(seen))
	}
}

// TestGenerateDirectiveCoversScheme checks that openapi-gen runs over the
// package of every kind addToScheme registers.
func TestGenerateDirectiveCoversScheme(t *testing.T) {
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate "); ok {
			args = strings.Fields(rest)
		}
	}
	if len(args) == 0 {
		t.Fatal("generate.go has no //go:generate directive")
	}
	cat, err := sharedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for name := range cat.kinds {
		pkg := name[:strings.LastIndex(name, ".")]
		if !slices.Contains(args, pkg) {
			t.Errorf("the go:generate directive does not list %s, the package of %s", pkg, name)
		}
	}
}

// TestModelsFeedTypeConverter checks Models against its purpose: server-side
// apply's type converter must build from it and type the served kinds.
func TestModelsFeedTypeConverter(t *testing.T) {
	tc, err := managedfields.NewTypeConverter(models(t), false)
	if err != nil {
		t.Fatalf("managedfields.NewTypeConverter(Models(), false) = %v", err)
	}
	replicas := int32(2)
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{
			name: "deployment",
			obj: &appsv1.Deployment{
				TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec: appsv1.DeploymentSpec{
					Replicas: &replicas,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name: "nginx", Image: "nginx",
							Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
						}}},
					},
				},
			},
		},
		{
			name: "pod",
			obj: &corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
		{
			name: "scale",
			obj: &autoscalingv1.Scale{
				TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
				Spec:       autoscalingv1.ScaleSpec{Replicas: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typed, err := tc.ObjectToTyped(tt.obj)
			if err != nil {
				t.Fatalf("ObjectToTyped(%s) = %v", tt.name, err)
			}
			if _, err := typed.ToFieldSet(); err != nil {
				t.Errorf("ToFieldSet(%s) = %v", tt.name, err)
			}
		})
	}
}

// TestDeterministic checks that the documents are byte-for-byte the same on
// every build, so that every Capstan master serves the same ?hash= URLs and
// ETags.
func TestDeterministic(t *testing.T) {
	a, b := newTestService(t), newTestService(t)
	encode := func(s *Service) []byte {
		var buf bytes.Buffer
		v2, err := json.Marshal(s.v2)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(v2)
		keys := make([]string, 0, len(s.v3))
		for k := range s.v3 {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v3, err := json.Marshal(s.v3[k])
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(v3)
		}
		return buf.Bytes()
	}
	if !bytes.Equal(encode(a), encode(b)) {
		t.Error("two builds of the same resources encode differently")
	}
}
