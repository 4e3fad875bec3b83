package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
	"github.com/capstan-io/capstan/apiserver/internal/tables"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// request is one resource request being served.
type request struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	info  requestInfo
	store *registry.Store
	res   *registry.Resource
	gv    schema.GroupVersion
	query url.Values
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info requestInfo) {
	store, ok := s.reg.Store(schema.GroupResource{Group: info.group, Resource: info.res})
	if !ok || store.Resource().Version != info.version {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: info.group, Resource: info.res}, ""))
		return
	}
	res := store.Resource()
	req := &request{s: s, w: w, r: r, info: info, store: store, res: res, gv: schema.GroupVersion{Group: res.Group, Version: res.Version}, query: r.URL.Query()}
	if err := req.checkScope(); err != nil {
		writeError(w, err)
		return
	}
	if info.subresource != "" {
		req.serveSubresource()
		return
	}
	var err error
	switch info.verb {
	case "get":
		err = req.get()
	case "list":
		err = req.list()
	case "watch":
		err = req.watch()
	case "create":
		err = req.create()
	case "update":
		err = req.update("")
	case "patch":
		err = req.patch("")
	case "delete":
		err = req.delete()
	case "deletecollection":
		err = req.deleteCollection()
	default:
		err = errMethodNotAllowed(r.Method, info.res)
	}
	if err != nil {
		writeError(w, err)
	}
}

// checkScope refuses paths whose namespace does not fit the resource's scope.
func (q *request) checkScope() error {
	if !q.res.Namespaced && q.info.namespace != "" {
		return apierrors.NewNotFound(q.store.Resource().GroupResource(), q.info.name)
	}
	if q.res.Namespaced && q.info.namespace == "" {
		switch q.info.verb {
		case "list", "watch":
		default:
			return apierrors.NewBadRequest(fmt.Sprintf("%s is a namespaced resource: the request must name a namespace", q.res.Resource))
		}
	}
	return nil
}

// writeOptions reads dryRun, fieldManager, fieldValidation and force.
func (q *request) writeOptions(subresource string) (registry.WriteOptions, error) {
	fence, err := q.fence()
	if err != nil {
		return registry.WriteOptions{}, err
	}
	opts := registry.WriteOptions{
		FieldManager: q.query.Get("fieldManager"), FieldValidation: q.query.Get("fieldValidation"),
		Subresource: subresource, Force: isTrue(q.query.Get("force")), Admit: q.admit, Fence: fence,
	}
	for _, d := range q.query["dryRun"] {
		if d != metav1.DryRunAll {
			return opts, apierrors.NewBadRequest(fmt.Sprintf("dryRun %q is not supported: the only value is %q", d, metav1.DryRunAll))
		}
		opts.DryRun = true
	}
	switch opts.FieldValidation {
	case "", metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
	default:
		return opts, apierrors.NewBadRequest(fmt.Sprintf("fieldValidation %q is invalid: must be Ignore, Warn or Strict", opts.FieldValidation))
	}
	if len(opts.FieldManager) > 128 {
		return opts, apierrors.NewBadRequest(fmt.Sprintf("fieldManager %q is longer than 128 characters", opts.FieldManager))
	}
	return opts, nil
}

// defaultManager names the field manager of a non-apply write that did not name one.
func (q *request) defaultManager(opts *registry.WriteOptions) {
	if opts.FieldManager == "" {
		opts.FieldManager = patch.FieldManagerFromUserAgent(q.r.Header.Get("User-Agent"))
	}
}

// respond writes obj in the negotiated format (a Table when asked).
func (q *request) respond(code int, obj runtime.Object) error {
	out, err := negotiate(q.r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	switch out.as {
	case "Table":
		includeObject := metav1.IncludeObjectPolicy(q.query.Get("includeObject"))
		table, err := tables.For(q.res.GroupResource()).Convert(obj, q.s.cfg.Now(), tables.Options{IncludeObject: includeObject})
		if err != nil {
			return apierrors.NewBadRequest(err.Error())
		}
		if lm, err := meta.ListAccessor(obj); err == nil && meta.IsListType(obj) {
			table.ResourceVersion, table.Continue = lm.GetResourceVersion(), lm.GetContinue()
		} else if m, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
		obj = table
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		obj = partialMetadata(obj)
	}
	writeObject(q.w, code, out, obj, q.gv)
	return nil
}

// partialMetadata strips objects down to their metadata.
func partialMetadata(obj runtime.Object) runtime.Object {
	tm := metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
	one := func(o runtime.Object) metav1.PartialObjectMetadata {
		p := metav1.PartialObjectMetadata{TypeMeta: tm}
		if m, err := meta.Accessor(o); err == nil {
			p.ObjectMeta = metav1.ObjectMeta{
				Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
				Generation: m.GetGeneration(), CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
				DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(), Annotations: m.GetAnnotations(),
				OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(), ManagedFields: m.GetManagedFields(),
			}
		}
		return p
	}
	if !meta.IsListType(obj) {
		p := one(obj)
		return &p
	}
	list := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}}
	if lm, err := meta.ListAccessor(obj); err == nil {
		list.ResourceVersion, list.Continue = lm.GetResourceVersion(), lm.GetContinue()
	}
	items, _ := meta.ExtractList(obj)
	for _, it := range items {
		list.Items = append(list.Items, one(it))
	}
	return list
}

func (q *request) get() error {
	var opts metav1.GetOptions
	if err := decodeParameters(q.query, &opts); err != nil {
		return err
	}
	obj, err := q.store.Get(q.r.Context(), q.info.namespace, q.info.name, opts)
	if err != nil {
		return err
	}
	return q.respond(http.StatusOK, obj)
}

func (q *request) list() error {
	var opts metav1.ListOptions
	if err := decodeParameters(q.query, &opts); err != nil {
		return err
	}
	obj, err := q.store.List(q.r.Context(), q.info.namespace, opts)
	if err != nil {
		return err
	}
	return q.respond(http.StatusOK, obj)
}

// decodeParameters reads query parameters into a metav1 options struct.
func decodeParameters(query url.Values, into runtime.Object) error {
	if err := scheme.ParameterCodec.DecodeParameters(query, schema.GroupVersion{Version: "v1"}, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid query parameters: %v", err))
	}
	return nil
}

func (q *request) body() ([]byte, error) { return readBody(q.r, q.s.cfg.MaxRequestBodyBytes) }

// readWrite reads the write options and decodes the body of a create or update as kind gvk.
func (q *request) readWrite(subresource string, gvk schema.GroupVersionKind) (registry.WriteOptions, runtime.Object, error) {
	opts, err := q.writeOptions(subresource)
	if err != nil {
		return opts, nil, err
	}
	q.defaultManager(&opts)
	data, err := q.body()
	if err != nil {
		return opts, nil, err
	}
	decoded, err := decodeBody(q.r, data, gvk, opts.FieldValidation)
	if err != nil {
		return opts, nil, err
	}
	addWarnings(q.w, decoded.warnings)
	return opts, decoded.obj, nil
}

func (q *request) create() error {
	opts, obj, err := q.readWrite("", q.res.GroupVersionKind())
	if err != nil {
		return err
	}
	out, err := q.store.Create(q.r.Context(), q.info.namespace, obj, opts)
	if err != nil {
		return err
	}
	return q.respond(http.StatusCreated, out)
}

func (q *request) update(subresource string) error {
	opts, obj, err := q.readWrite(subresource, q.res.GroupVersionKind())
	if err != nil {
		return err
	}
	if m, err := meta.Accessor(obj); err == nil && q.res.Namespaced && m.GetNamespace() != "" && m.GetNamespace() != q.info.namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", m.GetNamespace(), q.info.namespace))
	}
	out, created, err := q.store.Update(q.r.Context(), q.info.namespace, q.info.name, obj, opts)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	return q.respond(code, out)
}

// patchType reads the patch type from the Content-Type.
func (q *request) patchType() (types.PatchType, error) {
	ct := q.r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errUnsupportedMediaType(ct)
	}
	switch pt := types.PatchType(mt); pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
		return pt, nil
	}
	return "", errUnsupportedMediaType(ct)
}

func (q *request) patch(subresource string) error {
	pt, err := q.patchType()
	if err != nil {
		return err
	}
	opts, err := q.writeOptions(subresource)
	if err != nil {
		return err
	}
	if pt != types.ApplyYAMLPatchType {
		if opts.Force {
			return apierrors.NewBadRequest("force may only be set for server-side apply (application/apply-patch+yaml)")
		}
		q.defaultManager(&opts)
	}
	data, err := q.body()
	if err != nil {
		return err
	}
	res, err := q.store.Patch(q.r.Context(), q.info.namespace, q.info.name, pt, data, opts)
	if err != nil {
		return err
	}
	addWarnings(q.w, res.Warnings)
	code := http.StatusOK
	if res.Created {
		code = http.StatusCreated
	}
	return q.respond(code, res.Object)
}

// deleteOptions reads DeleteOptions from the query and, if present, the body.
func (q *request) deleteOptions() (metav1.DeleteOptions, bool, error) {
	var opts metav1.DeleteOptions
	if err := decodeParameters(q.query, &opts); err != nil {
		return opts, false, err
	}
	data, err := q.body()
	if err != nil {
		return opts, false, err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		decoded, err := decodeBody(q.r, data, schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}, metav1.FieldValidationIgnore)
		if err != nil {
			return opts, false, err
		}
		if o, ok := decoded.obj.(*metav1.DeleteOptions); ok {
			opts = *o
		}
	}
	dryRun := false
	for _, d := range opts.DryRun {
		if d != metav1.DryRunAll {
			return opts, false, apierrors.NewBadRequest(fmt.Sprintf("dryRun %q is not supported: the only value is %q", d, metav1.DryRunAll))
		}
		dryRun = true
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return opts, false, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy %q is invalid: must be Background, Foreground or Orphan", *opts.PropagationPolicy))
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		return opts, false, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds %d must not be negative", *opts.GracePeriodSeconds))
	}
	return opts, dryRun, nil
}

func (q *request) delete() error {
	opts, dryRun, err := q.deleteOptions()
	if err != nil {
		return err
	}
	fence, err := q.fence()
	if err != nil {
		return err
	}
	obj, gone, err := q.store.Delete(q.r.Context(), q.info.namespace, q.info.name, opts, registry.WriteOptions{DryRun: dryRun, Admit: q.admit, Fence: fence})
	if err != nil {
		return err
	}
	if !gone {
		return q.respond(http.StatusOK, obj)
	}
	m, _ := meta.Accessor(obj)
	st := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess,
		Details: &metav1.StatusDetails{Name: q.info.name, Group: q.res.Group, Kind: q.res.Resource, UID: m.GetUID()},
	}
	out, err := negotiate(q.r.Header.Get("Accept"))
	if err != nil {
		out = output{media: mediaJSON}
	}
	out.as = ""
	writeObject(q.w, http.StatusOK, out, st, q.gv)
	return nil
}

func (q *request) deleteCollection() error {
	opts, dryRun, err := q.deleteOptions()
	if err != nil {
		return err
	}
	var listOpts metav1.ListOptions
	if err := decodeParameters(q.query, &listOpts); err != nil {
		return err
	}
	fence, err := q.fence()
	if err != nil {
		return err
	}
	list, err := q.store.DeleteCollection(q.r.Context(), q.info.namespace, listOpts, opts, registry.WriteOptions{DryRun: dryRun, Admit: q.admit, Fence: fence})
	if err != nil {
		return err
	}
	return q.respond(http.StatusOK, list)
}

// addWarnings sets Kubernetes' Warning headers.
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}
