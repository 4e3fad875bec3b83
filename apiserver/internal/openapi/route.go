package openapi

import (
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
)

// typeRef names a model by its Go type name (k8s.io/api/apps/v1.Deployment),
// or a simple type ("string"), for kube-openapi's builders, which otherwise
// take a sample Go value.
type typeRef string

// OpenAPICanonicalTypeName returns the name the builders look definitions up by.
func (t typeRef) OpenAPICanonicalTypeName() string { return string(t) }

var _ util.OpenAPICanonicalTypeNamer = typeRef("")

// route is one operation of the API, in the form kube-openapi's builders read.
type route struct {
	method      string
	path        string
	operationID string
	tags        []string
	description string
	params      []common.Parameter
	consumes    []string
	produces    []string
	// metadata holds the operation's x-kubernetes-* extensions.
	metadata map[string]interface{}
	// request is the model of the body parameter, or nil.
	request   interface{}
	responses []common.StatusCodeResponse
}

var _ common.Route = (*route)(nil)

// Method returns the HTTP method.
func (r *route) Method() string { return r.method }

// Path returns the path, with {namespace} and {name} placeholders.
func (r *route) Path() string { return r.path }

// OperationName returns the final operation ID, e.g. patchAppsV1NamespacedDeployment.
func (r *route) OperationName() string { return r.operationID }

// Parameters returns the path, query and body parameters.
func (r *route) Parameters() []common.Parameter { return r.params }

// Description returns the operation's description.
func (r *route) Description() string { return r.description }

// Consumes returns the request content types.
func (r *route) Consumes() []string { return r.consumes }

// Produces returns the response content types.
func (r *route) Produces() []string { return r.produces }

// Metadata returns the operation's extensions.
func (r *route) Metadata() map[string]interface{} { return r.metadata }

// RequestPayloadSample returns the model of the body parameter, or nil.
func (r *route) RequestPayloadSample() interface{} { return r.request }

// ResponsePayloadSample returns nil: every route lists its responses.
func (r *route) ResponsePayloadSample() interface{} { return nil }

// StatusCodeResponses returns the responses by status code.
func (r *route) StatusCodeResponses() []common.StatusCodeResponse { return r.responses }

// operationIDAndTags is the builders' GetOperationIDAndTagsFromRoute: routes
// carry their final operation IDs and tags.
func operationIDAndTags(r common.Route) (string, []string, error) {
	if rt, ok := r.(*route); ok {
		return rt.operationID, rt.tags, nil
	}
	return r.OperationName(), nil, nil
}

// response is one status code's response.
type response struct {
	code    int
	message string
	model   interface{}
}

var _ common.StatusCodeResponse = response{}

// Code returns the HTTP status code.
func (r response) Code() int { return r.code }

// Message returns the response's description.
func (r response) Message() string { return r.message }

// Model returns the response body's model.
func (r response) Model() interface{} { return r.model }

// parameter is one route parameter.
type parameter struct {
	name        string
	description string
	required    bool
	kind        common.ParameterKind
	// dataType is a simple type: "string", "integer", "boolean" or "number".
	dataType string
}

var _ common.Parameter = parameter{}

// Name returns the parameter's name.
func (p parameter) Name() string { return p.name }

// Description returns the parameter's description.
func (p parameter) Description() string { return p.description }

// Required reports whether the parameter must be given.
func (p parameter) Required() bool { return p.required }

// Kind returns where the parameter goes: path, query or body.
func (p parameter) Kind() common.ParameterKind { return p.kind }

// DataType returns the parameter's simple type.
func (p parameter) DataType() string { return p.dataType }

// AllowMultiple reports false, which the builders render as uniqueItems, as
// the reference apiserver's documents do.
func (p parameter) AllowMultiple() bool { return false }

// container holds the routes of one group version under its root path.
type container struct {
	root   string
	routes []common.Route
}

var _ common.RouteContainer = (*container)(nil)

// RootPath returns the group version's path prefix, e.g. /apis/apps/v1.
func (c *container) RootPath() string { return c.root }

// PathParameters returns nil: the root paths have no parameters.
func (c *container) PathParameters() []common.Parameter { return nil }

// Routes returns the group version's routes.
func (c *container) Routes() []common.Route { return c.routes }
