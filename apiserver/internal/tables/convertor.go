package tables

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Options says how the rows of a Table carry their object and whether the Table has column
// definitions. The zero value asks for column definitions and PartialObjectMetadata rows, the
// reference apiserver's defaults.
type Options struct {
	// IncludeObject is the includeObject query parameter: None leaves row objects empty, Metadata
	// (the default, also used when empty) puts a meta.k8s.io/v1 PartialObjectMetadata in each row,
	// and Object puts the full object, with its apiVersion and kind set, in each row.
	IncludeObject metav1.IncludeObjectPolicy
	// NoHeaders omits the column definitions. The apiserver sets it for every watch event after
	// the first of a stream.
	NoHeaders bool
}

// rowFunc renders the cells (and row conditions) of one object. It returns ErrUnexpectedType,
// wrapped, for objects of a Go type it does not print, and ErrNoMetadata for objects without
// metadata.
type rowFunc func(obj runtime.Object, now time.Time) (metav1.TableRow, error)

// Convertor turns objects of one resource into a meta.k8s.io/v1 Table. A Convertor is immutable
// and safe for concurrent use.
type Convertor struct {
	columns []metav1.TableColumnDefinition
	row     rowFunc
}

// For returns the Convertor for a group resource, such as {Group: "apps", Resource:
// "deployments"}. Resources without a dedicated column set get the default convertor, whose
// columns are Name and Created At.
func For(gr schema.GroupResource) *Convertor {
	if c, ok := convertors[gr]; ok {
		return c
	}
	return defaultConvertor
}

// Convert builds the Table of obj, which is either a single object or a list object (a
// *corev1.PodList, an *unstructured.UnstructuredList or any other list meta.ExtractList
// understands). now is the reference time for AGE and other relative cells.
//
// The Table's apiVersion and kind are set (meta.k8s.io/v1, Table). The caller sets its
// ResourceVersion, Continue and RemainingItemCount afterwards; Convert leaves the list metadata
// empty. Row objects may share memory (labels, annotations, the object itself) with obj, so
// neither may be modified until the Table has been encoded. Convert never modifies obj.
func (c *Convertor) Convert(obj runtime.Object, now time.Time, opts Options) (*metav1.Table, error) {
	include := opts.IncludeObject
	switch include {
	case "":
		include = metav1.IncludeMetadata
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
	default:
		return nil, fmt.Errorf("%w: %q", ErrInvalidIncludeObject, opts.IncludeObject)
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: nil object", ErrUnexpectedType)
	}

	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, fmt.Errorf("%w: list %T: %v", ErrUnexpectedType, obj, err)
		}
	}

	table := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: metav1.SchemeGroupVersion.String(), Kind: "Table"},
		Rows:     make([]metav1.TableRow, 0, len(items)),
	}
	if !opts.NoHeaders {
		table.ColumnDefinitions = slices.Clone(c.columns)
	}
	for _, item := range items {
		row, err := c.row(item, now)
		if err != nil {
			return nil, err
		}
		if row.Object, err = rowObject(item, include); err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// partialObjectMetadataKind is the type of the row objects for IncludeObject=Metadata.
var partialObjectMetadataKind = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")

// rowObject returns what a row carries as its object under the given (validated) policy.
func rowObject(obj runtime.Object, include metav1.IncludeObjectPolicy) (runtime.RawExtension, error) {
	switch include {
	case metav1.IncludeNone:
		return runtime.RawExtension{}, nil
	case metav1.IncludeObject:
		return runtime.RawExtension{Object: withTypeMeta(obj)}, nil
	default:
		m, err := meta.Accessor(obj)
		if err != nil {
			return runtime.RawExtension{}, fmt.Errorf("%w: %T", ErrNoMetadata, obj)
		}
		partial := meta.AsPartialObjectMetadata(m)
		partial.SetGroupVersionKind(partialObjectMetadataKind)
		return runtime.RawExtension{Object: partial}, nil
	}
}

// withTypeMeta returns obj with apiVersion and kind set. Typed objects often arrive with an empty
// TypeMeta; those are copied before the kind registered in client-go's scheme is set, so the
// caller's object is never modified. Objects that already carry a kind, and types the scheme does
// not know, are returned as they are.
func withTypeMeta(obj runtime.Object) runtime.Object {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return obj
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return obj
	}
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(gvks[0])
	return out
}

// typedObject returns obj as a *T. Unstructured objects of the matching kind are converted, so a
// Convertor also serves callers that hold their objects as unstructured data.
func typedObject[T any, PT interface {
	*T
	runtime.Object
}](obj runtime.Object) (PT, error) {
	switch o := obj.(type) {
	case PT:
		return o, nil
	case *unstructured.Unstructured:
		out := PT(new(T))
		if gvks, _, err := scheme.Scheme.ObjectKinds(out); err == nil && len(gvks) > 0 {
			if got := o.GroupVersionKind().GroupKind(); got != gvks[0].GroupKind() {
				return nil, fmt.Errorf("%w: got %v, want %v", ErrUnexpectedType, got, gvks[0].GroupKind())
			}
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.UnstructuredContent(), out); err != nil {
			return nil, fmt.Errorf("%w: converting %v: %v", ErrUnexpectedType, o.GroupVersionKind(), err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: got %T, want %T", ErrUnexpectedType, obj, PT(nil))
	}
}

// cellsOf adapts a function that renders the cells of a *T into a rowFunc.
func cellsOf[T any, PT interface {
	*T
	runtime.Object
}](cells func(obj PT, now time.Time) []any) rowFunc {
	return func(obj runtime.Object, now time.Time) (metav1.TableRow, error) {
		typed, err := typedObject[T, PT](obj)
		if err != nil {
			return metav1.TableRow{}, err
		}
		return metav1.TableRow{Cells: cells(typed, now)}, nil
	}
}

// rowsOf adapts a function that renders a whole row (cells and conditions) of a *T into a rowFunc.
func rowsOf[T any, PT interface {
	*T
	runtime.Object
}](row func(obj PT, now time.Time) metav1.TableRow) rowFunc {
	return func(obj runtime.Object, now time.Time) (metav1.TableRow, error) {
		typed, err := typedObject[T, PT](obj)
		if err != nil {
			return metav1.TableRow{}, err
		}
		return row(typed, now), nil
	}
}

// defaultConvertor serves every resource without a dedicated column set, like the reference
// apiserver's default table convertor: the name and the creation time in RFC 3339, UTC.
var defaultConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
	},
	row: func(obj runtime.Object, _ time.Time) (metav1.TableRow, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return metav1.TableRow{}, fmt.Errorf("%w: %T", ErrNoMetadata, obj)
		}
		created := m.GetCreationTimestamp().UTC().Format(time.RFC3339)
		return metav1.TableRow{Cells: []any{m.GetName(), created}}, nil
	},
}

// convertors holds the dedicated Convertor of every resource with its own column set.
var convertors = map[schema.GroupResource]*Convertor{
	{Resource: "pods"}:                                                    podConvertor,
	{Resource: "namespaces"}:                                              namespaceConvertor,
	{Resource: "nodes"}:                                                   nodeConvertor,
	{Resource: "services"}:                                                serviceConvertor,
	{Resource: "endpoints"}:                                               endpointsConvertor,
	{Resource: "configmaps"}:                                              configMapConvertor,
	{Resource: "secrets"}:                                                 secretConvertor,
	{Resource: "serviceaccounts"}:                                         serviceAccountConvertor,
	{Resource: "events"}:                                                  eventConvertor,
	{Group: "events.k8s.io", Resource: "events"}:                          eventsAPIConvertor,
	{Group: "apps", Resource: "deployments"}:                              deploymentConvertor,
	{Group: "apps", Resource: "replicasets"}:                              replicaSetConvertor,
	{Group: "apps", Resource: "daemonsets"}:                               daemonSetConvertor,
	{Group: "apps", Resource: "statefulsets"}:                             statefulSetConvertor,
	{Group: "apps", Resource: "controllerrevisions"}:                      controllerRevisionConvertor,
	{Group: "batch", Resource: "jobs"}:                                    jobConvertor,
	{Group: "batch", Resource: "cronjobs"}:                                cronJobConvertor,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:               endpointSliceConvertor,
	{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:        roleBindingConvertor,
	{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}: clusterRoleBindingConvertor,
	{Group: "coordination.k8s.io", Resource: "leases"}:                    leaseConvertor,
	// roles and clusterroles have no column set in Kubernetes either: they use defaultConvertor.
}
