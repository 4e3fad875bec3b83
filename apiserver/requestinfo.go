package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a request's method and path say about it.
type requestInfo struct {
	// resource is set for API resource requests; otherwise path is a non-resource URL.
	resource    bool
	verb        string // get list watch create update patch delete deletecollection, or the HTTP method lower-cased
	apiPrefix   string // "api" or "apis"
	group       string
	version     string
	namespace   string
	name        string
	res         string // plural resource
	subresource string
	path        string
}

// namespaceSubresources are subresources of namespaces that would otherwise read as resources.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequestInfo reads the Kubernetes API path grammar:
//
//	/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//	/apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
//
// including the deprecated /watch/ prefix after the version. Anything else is a
// non-resource request.
func parseRequestInfo(r *http.Request) requestInfo {
	info := requestInfo{path: r.URL.Path, verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL.Path)
	if len(parts) < 2 {
		return info
	}
	switch parts[0] {
	case "api":
		info.apiPrefix, info.version = "api", parts[1]
		parts = parts[2:]
	case "apis":
		if len(parts) < 3 {
			return info
		}
		info.apiPrefix, info.group, info.version = "apis", parts[1], parts[2]
		parts = parts[3:]
	default:
		return info
	}
	if len(parts) == 0 {
		return info // a group version's discovery document
	}
	watchPrefix := false
	if parts[0] == "watch" {
		watchPrefix = true
		parts = parts[1:]
		if len(parts) == 0 {
			return info
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.resource = true
	info.res = parts[0]
	if len(parts) > 1 {
		info.name = parts[1]
	}
	if len(parts) > 2 {
		info.subresource = parts[2]
	}
	if len(parts) > 3 {
		info.resource = false // deeper paths (proxy) are not served
		return info
	}
	if info.res == "namespaces" {
		info.namespace = ""
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watchPrefix || (info.subresource == "" && isTrue(r.URL.Query().Get("watch"))):
			info.verb = "watch"
		case info.name == "":
			info.verb = "list"
		default:
			info.verb = "get"
		}
	case http.MethodPost:
		info.verb = "create"
	case http.MethodPut:
		info.verb = "update"
	case http.MethodPatch:
		info.verb = "patch"
	case http.MethodDelete:
		if info.name == "" {
			info.verb = "deletecollection"
		} else {
			info.verb = "delete"
		}
	}
	return info
}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func isTrue(v string) bool { return v == "true" || v == "1" }
