package openapi

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The verbs a Resource or Subresource may list, as in discovery.
const (
	VerbGet              = "get"
	VerbList             = "list"
	VerbWatch            = "watch"
	VerbCreate           = "create"
	VerbUpdate           = "update"
	VerbPatch            = "patch"
	VerbDelete           = "delete"
	VerbDeleteCollection = "deletecollection"
)

// resourceVerbs are the verbs a Resource may list.
var resourceVerbs = []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbDelete, VerbDeleteCollection}

// Resource describes one served resource for the OpenAPI paths.
type Resource struct {
	// Group, Version and Kind name the resource's kind, e.g. "apps", "v1",
	// "Deployment"; the core group is "".
	Group, Version, Kind string
	// Resource is the plural resource name, e.g. "deployments".
	Resource string
	// ListKind is the kind of the list, e.g. "DeploymentList". When empty it
	// defaults to Kind + "List".
	ListKind string
	// Namespaced reports whether objects live in namespaces.
	Namespaced bool
	// Verbs is a non-empty subset of get, list, watch, create, update, patch,
	// delete and deletecollection. The deprecated /watch/ paths are listed
	// for watch; the all-namespaces list and watch paths for a namespaced
	// resource's list and watch.
	Verbs []string
	// Subresources are the resource's subresources, such as status and scale.
	Subresources []Subresource
}

// Subresource describes a subresource of a Resource.
//
// Most subresources carry a kind: status (the parent's kind, which is what an
// empty Group, Version and Kind mean), scale (autoscaling/v1 Scale), binding
// (core/v1 Binding, create only) and eviction (policy/v1 Eviction, create
// only). Their verbs are get, update, patch and create.
//
// Four names of core/v1 pods are special and must leave Group, Version and
// Kind empty: log (verb get; the query parameters of core/v1 PodLogOptions and
// a text response) and the connect subresources exec, attach and portforward
// (verbs get and create, which become GET and POST operations with the query
// parameters of PodExecOptions, PodAttachOptions and PodPortForwardOptions).
type Subresource struct {
	// Name is the subresource's path segment, e.g. "status".
	Name string
	// Group, Version and Kind name the request and response body's kind.
	Group, Version, Kind string
	// Verbs are the subresource's verbs.
	Verbs []string
}

// subresourceVerbs are the verbs an ordinary Subresource may list.
var subresourceVerbs = []string{VerbGet, VerbCreate, VerbUpdate, VerbPatch}

// podSubresource describes one of the special subresources of core/v1 pods.
type podSubresource struct {
	// connect marks exec, attach and portforward, whose operations are
	// "connect" operations.
	connect bool
	// verbs are the verbs the subresource may list.
	verbs []string
}

// podSubresources are the special subresources of core/v1 pods, by name.
var podSubresources = map[string]podSubresource{
	"log":         {verbs: []string{VerbGet}},
	"exec":        {connect: true, verbs: []string{VerbGet, VerbCreate}},
	"attach":      {connect: true, verbs: []string{VerbGet, VerbCreate}},
	"portforward": {connect: true, verbs: []string{VerbGet, VerbCreate}},
}

// podKind is the kind whose special subresources podSubresources lists.
var podKind = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}

// groupVersion returns the resource's group version.
func (r *Resource) groupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}

// kind returns the resource's group-version-kind.
func (r *Resource) kind() schema.GroupVersionKind {
	return r.groupVersion().WithKind(r.Kind)
}

// listKind returns the group-version-kind of the resource's list.
func (r *Resource) listKind() schema.GroupVersionKind {
	if r.ListKind == "" {
		return r.groupVersion().WithKind(r.Kind + "List")
	}
	return r.groupVersion().WithKind(r.ListKind)
}

// has reports whether the resource lists verb.
func (r *Resource) has(verb string) bool {
	return slices.Contains(r.Verbs, verb)
}

// validate checks the fields New relies on; it does not look kinds up.
func (r *Resource) validate() error {
	switch {
	case r.Version == "" || r.Kind == "":
		return fmt.Errorf("%w: resource %q: version and kind are required", ErrInvalidResource, r.Resource)
	case !isSegment(r.Resource):
		return fmt.Errorf("%w: %s: resource name %q is not a single lower-case path segment", ErrInvalidResource, r.kind(), r.Resource)
	case len(r.Verbs) == 0:
		return fmt.Errorf("%w: %s: no verbs", ErrInvalidResource, r.kind())
	}
	if err := checkVerbs(r.Verbs, resourceVerbs); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidResource, r.kind(), err)
	}
	seen := map[string]bool{}
	for _, sub := range r.Subresources {
		if !isSegment(sub.Name) {
			return fmt.Errorf("%w: %s: subresource name %q is not a single lower-case path segment", ErrInvalidResource, r.kind(), sub.Name)
		}
		if seen[sub.Name] {
			return fmt.Errorf("%w: %s: duplicate subresource %q", ErrInvalidResource, r.kind(), sub.Name)
		}
		seen[sub.Name] = true
		if len(sub.Verbs) == 0 {
			return fmt.Errorf("%w: %s/%s: no verbs", ErrInvalidResource, r.Resource, sub.Name)
		}
		allowed := subresourceVerbs
		if special, ok := podSubresources[sub.Name]; ok && r.kind() == podKind {
			if sub.Group != "" || sub.Version != "" || sub.Kind != "" {
				return fmt.Errorf("%w: %s/%s: group, version and kind must be empty", ErrInvalidResource, r.Resource, sub.Name)
			}
			allowed = special.verbs
		} else if sub.Kind == "" {
			if sub.Group != "" || sub.Version != "" {
				return fmt.Errorf("%w: %s/%s: group and version given without a kind", ErrInvalidResource, r.Resource, sub.Name)
			}
			if ok {
				return fmt.Errorf("%w: %s/%s: a kindless %s subresource is only supported on core/v1 pods", ErrInvalidResource, r.Resource, sub.Name, sub.Name)
			}
		}
		if err := checkVerbs(sub.Verbs, allowed); err != nil {
			return fmt.Errorf("%w: %s/%s: %v", ErrInvalidResource, r.Resource, sub.Name, err)
		}
	}
	return nil
}

// checkVerbs reports the first verb that allowed does not contain, or a
// repeated verb.
func checkVerbs(verbs, allowed []string) error {
	seen := map[string]bool{}
	for _, v := range verbs {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("verb %q is not one of %s", v, strings.Join(allowed, ", "))
		}
		if seen[v] {
			return fmt.Errorf("verb %q is listed twice", v)
		}
		seen[v] = true
	}
	return nil
}

// isSegment reports whether s is a non-empty lower-case path segment, as
// resource and subresource names are.
func isSegment(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
