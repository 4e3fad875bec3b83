package openapi

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kube-openapi/pkg/common"
)

// Content types of the operations, as the reference apiserver lists them for
// its JSON, YAML and protobuf serializers.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	// listMediaTypes adds the watch stream types, since a list may be a watch.
	listMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	patchMediaTypes = []string{
		string(types.JSONPatchType),
		string(types.MergePatchType),
		string(types.StrategicMergePatchType),
		string(types.ApplyYAMLPatchType),
	}
	anyMediaTypes = []string{"*/*"}
	logMediaTypes = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// Models shared by every resource.
var (
	statusRef          = refOf(metav1.Status{})
	watchEventRef      = refOf(metav1.WatchEvent{})
	deleteOptionsRef   = refOf(metav1.DeleteOptions{})
	patchRef           = refOf(metav1.Patch{})
	apiResourceListRef = refOf(metav1.APIResourceList{})
	stringRef          = typeRef("string")
)

// refOf returns the model of v's Go type.
func refOf(v interface{}) typeRef {
	return typeRef(goTypeName(reflect.TypeOf(v)))
}

// extensionAction is the vendor extension that names an operation's action:
// get, list, watch, watchlist, post, put, patch, delete, deletecollection or
// connect.
const extensionAction = "x-kubernetes-action"

// connectOptions are the options kinds of the connect subresources of pods.
var connectOptions = map[string]runtime.Object{
	"exec":        &corev1.PodExecOptions{},
	"attach":      &corev1.PodAttachOptions{},
	"portforward": &corev1.PodPortForwardOptions{},
}

// podSubresourceParams are the query parameters of the option-taking
// subresources of pods, from their options kinds.
var podSubresourceParams = map[string][]common.Parameter{
	"log":         optionParams(corev1.PodLogOptions{}),
	"exec":        optionParams(corev1.PodExecOptions{}),
	"attach":      optionParams(corev1.PodAttachOptions{}),
	"portforward": optionParams(corev1.PodPortForwardOptions{}),
}

// gvPaths holds the names derived from one group version.
type gvPaths struct {
	// prefix is the URL prefix: /api/v1 or /apis/<group>/<version>.
	prefix string
	// opInfix goes between an operation ID's verb and the rest: CoreV1, AppsV1.
	opInfix string
	// tag is the operations' tag: core_v1, apps_v1.
	tag string
	// v3Key names the group version's v3 document: api/v1, apis/apps/v1.
	v3Key string
}

// newGVPaths derives the names of gv as the reference apiserver does: the
// core group is "core" in operation IDs and tags, and a group's ".k8s.io"
// suffix is dropped (rbac.authorization.k8s.io becomes RbacAuthorization).
func newGVPaths(gv schema.GroupVersion) gvPaths {
	var p gvPaths
	group := "core"
	if gv.Group == "" {
		p.v3Key = "api/" + gv.Version
	} else {
		p.v3Key = "apis/" + gv.Group + "/" + gv.Version
		group = strings.TrimSuffix(gv.Group, ".k8s.io")
	}
	p.prefix = "/" + p.v3Key
	p.opInfix = camel(group, true) + camel(gv.Version, true)
	p.tag = camel(group, false) + "_" + camel(gv.Version, false)
	return p
}

// camel turns s into an identifier: letters, digits (not first) and
// underscores are kept, anything else is dropped and capitalizes the next
// letter. upperFirst capitalizes the first letter too.
func camel(s string, upperFirst bool) string {
	var b strings.Builder
	upper := upperFirst
	for i, r := range s {
		if !unicode.IsLetter(r) && r != '_' && (i == 0 || !unicode.IsDigit(r)) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// withArticle prefixes noun with "a " or "an ", except plurals such as
// Endpoints.
func withArticle(noun string) string {
	if noun == "" {
		return noun
	}
	if strings.HasSuffix(noun, "s") && !strings.HasSuffix(noun, "ss") {
		return noun
	}
	if strings.ContainsRune("AEIOUaeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

// routeBuilder accumulates the routes of one group version.
type routeBuilder struct {
	cat    *catalog
	p      gvPaths
	routes []common.Route
}

// add appends rt, tagged with the group version, with the extensions of an
// operation on gvk.
func (b *routeBuilder) add(rt *route, gvk schema.GroupVersionKind, action string) {
	rt.tags = []string{b.p.tag}
	rt.metadata = map[string]interface{}{
		extensionGVK:    metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		extensionAction: action,
	}
	b.routes = append(b.routes, rt)
}

// op returns an operation ID: the verb, the group version, then rest.
func (b *routeBuilder) op(verb, rest string) string {
	return verb + b.p.opInfix + rest
}

// ref returns the model of gvk.
func (b *routeBuilder) ref(gvk schema.GroupVersionKind) (typeRef, error) {
	name, err := b.cat.typeName(gvk)
	return typeRef(name), err
}

// addDiscovery adds the group version's resource list, GET <prefix>/.
func (b *routeBuilder) addDiscovery() {
	b.routes = append(b.routes, &route{
		method:      http.MethodGet,
		path:        b.p.prefix + "/",
		operationID: "get" + b.p.opInfix + "APIResources",
		tags:        []string{b.p.tag},
		description: "get available resources",
		consumes:    objectMediaTypes,
		produces:    objectMediaTypes,
		responses:   responsesOf(apiResourceListRef, http.StatusOK),
	})
}

// responsesOf returns one response of model for each of codes, described by
// the codes' status texts (OK, Created, Accepted).
func responsesOf(model interface{}, codes ...int) []common.StatusCodeResponse {
	out := make([]common.StatusCodeResponse, 0, len(codes))
	for _, code := range codes {
		out = append(out, response{code, http.StatusText(code), model})
	}
	return out
}

// addResource adds the routes of r and of its subresources.
func (b *routeBuilder) addResource(r *Resource) error {
	gvk := r.kind()
	kindRef, err := b.ref(gvk)
	if err != nil {
		return err
	}
	kind := r.Kind
	scope := ""
	collection := b.p.prefix + "/" + r.Resource
	var collectionParams []common.Parameter
	if r.Namespaced {
		scope = "Namespaced"
		collection = b.p.prefix + "/namespaces/{namespace}/" + r.Resource
		collectionParams = []common.Parameter{namespaceParam}
	}
	item := collection + "/{name}"
	itemParams := join(collectionParams, []common.Parameter{nameParam(kind)})
	watchPath := func(path string) string {
		return b.p.prefix + "/watch" + strings.TrimPrefix(path, b.p.prefix)
	}

	if r.has(VerbList) {
		listRef, err := b.ref(r.listKind())
		if err != nil {
			return err
		}
		description := "list objects of kind " + kind
		if r.has(VerbWatch) {
			description = "list or watch objects of kind " + kind
		}
		b.addList(collection, collectionParams, b.op("list", scope+kind), description, listRef, gvk, "list")
		if r.Namespaced {
			b.addList(b.p.prefix+"/"+r.Resource, nil, b.op("list", kind+"ForAllNamespaces"), description, listRef, gvk, "list")
		}
		if r.has(VerbWatch) {
			description := "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead."
			b.addList(watchPath(collection), collectionParams, b.op("watch", scope+kind+"List"), description, watchEventRef, gvk, "watchlist")
			if r.Namespaced {
				b.addList(b.p.prefix+"/watch/"+r.Resource, nil, b.op("watch", kind+"ListForAllNamespaces"), description, watchEventRef, gvk, "watchlist")
			}
		}
	}
	if r.has(VerbCreate) {
		b.addCreate(collection, collectionParams, b.op("create", scope+kind), "create "+withArticle(kind), kindRef, gvk)
	}
	if r.has(VerbDeleteCollection) {
		b.add(&route{
			method:      http.MethodDelete,
			path:        collection,
			operationID: b.op("delete", "Collection"+scope+kind),
			description: "delete collection of " + kind,
			params:      join(collectionParams, []common.Parameter{prettyParam, bodyParam(false)}, deleteOptionsParams, deleteCollectionListParams),
			consumes:    anyMediaTypes,
			produces:    objectMediaTypes,
			request:     deleteOptionsRef,
			responses:   responsesOf(statusRef, http.StatusOK),
		}, gvk, "deletecollection")
	}
	if r.has(VerbGet) {
		b.addRead(item, itemParams, b.op("read", scope+kind), "read the specified "+kind, kindRef, gvk)
	}
	if r.has(VerbUpdate) {
		b.addReplace(item, itemParams, b.op("replace", scope+kind), "replace the specified "+kind, kindRef, gvk)
	}
	if r.has(VerbPatch) {
		b.addPatch(item, itemParams, b.op("patch", scope+kind), "partially update the specified "+kind, kindRef, gvk)
	}
	if r.has(VerbDelete) {
		b.add(&route{
			method:      http.MethodDelete,
			path:        item,
			operationID: b.op("delete", scope+kind),
			description: "delete " + withArticle(kind),
			params:      join(itemParams, []common.Parameter{prettyParam, bodyParam(false)}, deleteOptionsParams),
			consumes:    anyMediaTypes,
			produces:    objectMediaTypes,
			request:     deleteOptionsRef,
			responses:   responsesOf(statusRef, http.StatusOK, http.StatusAccepted),
		}, gvk, "delete")
	}
	if r.has(VerbWatch) {
		description := "watch changes to an object of kind " + kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
		b.addList(watchPath(item), itemParams, b.op("watch", scope+kind), description, watchEventRef, gvk, "watch")
	}

	for i := range r.Subresources {
		if err := b.addSubresource(r, &r.Subresources[i], scope, item, collectionParams); err != nil {
			return err
		}
	}
	return nil
}

// addList adds a GET operation on path that takes the list options and may
// stream: a list of model, or a watch (action watchlist or watch) whose model
// is the watch event.
func (b *routeBuilder) addList(path string, params []common.Parameter, operationID, description string, model typeRef, gvk schema.GroupVersionKind, action string) {
	b.add(&route{
		method:      http.MethodGet,
		path:        path,
		operationID: operationID,
		description: description,
		params:      join(params, []common.Parameter{prettyParam}, listOptionsParams),
		consumes:    anyMediaTypes,
		produces:    listMediaTypes,
		responses:   responsesOf(model, http.StatusOK),
	}, gvk, action)
}

// addRead adds a GET operation on path that answers with model.
func (b *routeBuilder) addRead(path string, params []common.Parameter, operationID, description string, model typeRef, gvk schema.GroupVersionKind) {
	b.add(&route{
		method:      http.MethodGet,
		path:        path,
		operationID: operationID,
		description: description,
		params:      join(params, []common.Parameter{prettyParam}),
		consumes:    anyMediaTypes,
		produces:    objectMediaTypes,
		responses:   responsesOf(model, http.StatusOK),
	}, gvk, "get")
}

// addCreate adds a POST operation on path that takes and answers with model.
func (b *routeBuilder) addCreate(path string, params []common.Parameter, operationID, description string, model typeRef, gvk schema.GroupVersionKind) {
	b.add(&route{
		method:      http.MethodPost,
		path:        path,
		operationID: operationID,
		description: description,
		params:      join(params, []common.Parameter{prettyParam, bodyParam(true)}, createOptionsParams),
		consumes:    anyMediaTypes,
		produces:    objectMediaTypes,
		request:     model,
		responses:   responsesOf(model, http.StatusOK, http.StatusCreated, http.StatusAccepted),
	}, gvk, "post")
}

// addReplace adds a PUT operation on path.
func (b *routeBuilder) addReplace(path string, params []common.Parameter, operationID, description string, model typeRef, gvk schema.GroupVersionKind) {
	b.add(&route{
		method:      http.MethodPut,
		path:        path,
		operationID: operationID,
		description: description,
		params:      join(params, []common.Parameter{prettyParam, bodyParam(true)}, updateOptionsParams),
		consumes:    anyMediaTypes,
		produces:    objectMediaTypes,
		request:     model,
		responses:   responsesOf(model, http.StatusOK, http.StatusCreated),
	}, gvk, "put")
}

// addPatch adds a PATCH operation on path. kubectl looks for exactly this
// operation, its x-kubernetes-group-version-kind and its fieldValidation
// parameter to decide that the server validates fields.
func (b *routeBuilder) addPatch(path string, params []common.Parameter, operationID, description string, model typeRef, gvk schema.GroupVersionKind) {
	b.add(&route{
		method:      http.MethodPatch,
		path:        path,
		operationID: operationID,
		description: description,
		params:      join(params, []common.Parameter{prettyParam, bodyParam(true)}, patchOptionsParams),
		consumes:    patchMediaTypes,
		produces:    objectMediaTypes,
		request:     patchRef,
		responses:   responsesOf(model, http.StatusOK, http.StatusCreated),
	}, gvk, "patch")
}

// addSubresource adds the routes of sub, a subresource of r whose item path
// is item.
func (b *routeBuilder) addSubresource(r *Resource, sub *Subresource, scope, item string, collectionParams []common.Parameter) error {
	path := item + "/" + sub.Name
	suffix := scope + r.Kind + camel(sub.Name, true)
	has := func(verb string) bool { return slices.Contains(sub.Verbs, verb) }

	if _, special := podSubresources[sub.Name]; special && r.kind() == podKind && sub.Kind == "" {
		optionsParams := podSubresourceParams[sub.Name]
		if sub.Name == "log" {
			b.add(&route{
				method:      http.MethodGet,
				path:        path,
				operationID: b.op("read", suffix),
				description: "read log of the specified " + r.Kind,
				params:      join(collectionParams, []common.Parameter{nameParam(r.Kind), prettyParam}, optionsParams),
				consumes:    anyMediaTypes,
				produces:    logMediaTypes,
				responses:   responsesOf(stringRef, http.StatusOK),
			}, r.kind(), "get")
			return nil
		}
		optionsKind, err := b.cat.kindOf(connectOptions[sub.Name], r.groupVersion())
		if err != nil {
			return err
		}
		for _, m := range []struct{ verb, method string }{{VerbGet, http.MethodGet}, {VerbCreate, http.MethodPost}} {
			if !has(m.verb) {
				continue
			}
			b.add(&route{
				method:      m.method,
				path:        path,
				operationID: b.op("connect", camel(strings.ToLower(m.method), true)+suffix),
				description: "connect " + m.method + " requests to " + sub.Name + " of " + r.Kind,
				params:      join(collectionParams, []common.Parameter{nameParam(optionsKind.Kind)}, optionsParams),
				consumes:    anyMediaTypes,
				produces:    anyMediaTypes,
				responses:   responsesOf(stringRef, http.StatusOK),
			}, optionsKind, "connect")
		}
		return nil
	}

	gvk := r.kind()
	if sub.Kind != "" {
		gvk = schema.GroupVersionKind{Group: sub.Group, Version: sub.Version, Kind: sub.Kind}
	}
	model, err := b.ref(gvk)
	if err != nil {
		return err
	}
	params := join(collectionParams, []common.Parameter{nameParam(gvk.Kind)})
	if has(VerbGet) {
		b.addRead(path, params, b.op("read", suffix), "read "+sub.Name+" of the specified "+r.Kind, model, gvk)
	}
	if has(VerbUpdate) {
		b.addReplace(path, params, b.op("replace", suffix), "replace "+sub.Name+" of the specified "+r.Kind, model, gvk)
	}
	if has(VerbPatch) {
		b.addPatch(path, params, b.op("patch", suffix), "partially update "+sub.Name+" of the specified "+r.Kind, model, gvk)
	}
	if has(VerbCreate) {
		b.addCreate(path, params, b.op("create", suffix), "create "+sub.Name+" of "+withArticle(r.Kind), model, gvk)
	}
	return nil
}
