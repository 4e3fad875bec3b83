package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"runtime"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/capstan-io/capstan/apiserver/internal/openapi"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// KubernetesVersion is the Kubernetes release whose API Capstan serves. kubectl's dispatcher
// picks the kubectl build matching its minor version.
var KubernetesVersion = version.Info{
	Major: "1", Minor: "32", GitVersion: "v1.32.4+capstan", GitTreeState: "clean",
	GoVersion: runtime.Version(), Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", KubernetesVersion)
}

func writeJSON(w http.ResponseWriter, code int, contentType string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(data)
	_, _ = w.Write([]byte("\n"))
}

// subresource is one subresource of a served resource.
type subresource struct {
	name  string
	kind  schema.GroupVersionKind // empty for log/exec/attach/portforward
	verbs []string
}

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresourcesOf lists a resource's subresources: the one place routing, discovery and OpenAPI
// learn them from.
func subresourcesOf(res *registry.Resource) []subresource {
	gvk := res.GroupVersionKind()
	var subs []subresource
	if res.Strategy.Status {
		subs = append(subs, subresource{name: "status", kind: gvk, verbs: []string{"get", "patch", "update"}})
	}
	if res.Strategy.Scale {
		subs = append(subs, subresource{name: "scale", kind: registry.ScaleGVK, verbs: []string{"get", "patch", "update"}})
	}
	switch res.GroupResource() {
	case schema.GroupResource{Resource: "pods"}:
		subs = append(subs,
			subresource{name: "binding", kind: schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, verbs: []string{"create"}},
			subresource{name: "eviction", kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, verbs: []string{"create"}},
			subresource{name: "log", verbs: []string{"get"}},
			subresource{name: "exec", verbs: []string{"create", "get"}},
			subresource{name: "attach", verbs: []string{"create", "get"}},
			subresource{name: "portforward", verbs: []string{"create", "get"}},
		)
	case schema.GroupResource{Resource: "namespaces"}:
		subs = append(subs, subresource{name: "finalize", kind: gvk, verbs: []string{"update"}})
	}
	return subs
}

func findSubresource(res *registry.Resource, name string) (subresource, bool) {
	for _, s := range subresourcesOf(res) {
		if s.name == name {
			return s, true
		}
	}
	return subresource{}, false
}

// discovery serves /api and /apis, aggregated (v2) or legacy, and the group version lists.
type discovery struct {
	core       apidiscoveryv2.APIGroupDiscoveryList
	groups     apidiscoveryv2.APIGroupDiscoveryList
	groupList  metav1.APIGroupList
	resources  map[string]*metav1.APIResourceList // by group version ("v1", "apps/v1")
	groupByKey map[string]metav1.APIGroup
}

func newDiscovery(reg *registry.Registry) *discovery {
	d := &discovery{resources: map[string]*metav1.APIResourceList{}, groupByKey: map[string]metav1.APIGroup{}}
	byGroup := map[string]*apidiscoveryv2.APIGroupDiscovery{}
	var order []string
	for _, st := range reg.Stores() {
		res := st.Resource()
		gv := schema.GroupVersion{Group: res.Group, Version: res.Version}
		g := byGroup[res.Group]
		if g == nil {
			g = &apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: res.Group},
				Versions: []apidiscoveryv2.APIVersionDiscovery{{Version: res.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}}}
			byGroup[res.Group] = g
			order = append(order, res.Group)
		}
		scope := apidiscoveryv2.ScopeCluster
		if res.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		gvk := res.GroupVersionKind()
		rd := apidiscoveryv2.APIResourceDiscovery{
			Resource: res.Resource, ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Scope: scope, SingularResource: res.Singular, Verbs: allVerbs, ShortNames: res.ShortNames, Categories: res.Categories,
		}
		list := d.resources[gv.String()]
		if list == nil {
			list = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			d.resources[gv.String()] = list
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: res.Resource, SingularName: res.Singular, Namespaced: res.Namespaced, Kind: res.Kind,
			Verbs: allVerbs, ShortNames: res.ShortNames, Categories: res.Categories,
		})
		for _, sub := range subresourcesOf(res) {
			sd := apidiscoveryv2.APISubresourceDiscovery{Subresource: sub.name, Verbs: sub.verbs}
			ar := metav1.APIResource{Name: res.Resource + "/" + sub.name, Namespaced: res.Namespaced, Verbs: sub.verbs}
			if !sub.kind.Empty() {
				sd.ResponseKind = &metav1.GroupVersionKind{Group: sub.kind.Group, Version: sub.kind.Version, Kind: sub.kind.Kind}
				ar.Group, ar.Version, ar.Kind = sub.kind.Group, sub.kind.Version, sub.kind.Kind
			} else {
				ar.Kind = "Pod" + strings.ToUpper(sub.name[:1]) + sub.name[1:] + "Options"
			}
			rd.Subresources = append(rd.Subresources, sd)
			list.APIResources = append(list.APIResources, ar)
		}
		g.Versions[0].Resources = append(g.Versions[0].Resources, rd)
	}
	sort.Strings(order)
	tm := metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}
	d.core.TypeMeta, d.groups.TypeMeta = tm, tm
	d.groupList.TypeMeta = metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}
	for _, name := range order {
		g := byGroup[name]
		sort.Slice(g.Versions[0].Resources, func(i, j int) bool { return g.Versions[0].Resources[i].Resource < g.Versions[0].Resources[j].Resource })
		if name == "" {
			d.core.Items = append(d.core.Items, *g)
			continue
		}
		d.groups.Items = append(d.groups.Items, *g)
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + g.Versions[0].Version, Version: g.Versions[0].Version}
		ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: name, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd}
		d.groupList.Groups = append(d.groupList.Groups, ag)
		d.groupByKey[name] = ag
	}
	return d
}

// aggregatedType is the response Content-Type of aggregated discovery.
const aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether the Accept header asks for aggregated discovery v2 before
// any plain format.
func wantsAggregated(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["as"] == "APIGroupDiscoveryList" && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && mt == mediaJSON {
			return true
		}
		if params["as"] == "" {
			return false
		}
	}
	return false
}

// serveAPI serves /api and /api/v1.
func (d *discovery) serveAPI(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/api":
		if wantsAggregated(r.Header.Get("Accept")) {
			writeJSON(w, http.StatusOK, aggregatedType, d.core)
			return
		}
		writeJSON(w, http.StatusOK, mediaJSON, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
		})
	case "/api/v1":
		writeJSON(w, http.StatusOK, mediaJSON, d.resources["v1"])
	default:
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
	}
}

// serveAPIs serves /apis, /apis/<group> and /apis/<group>/<version>.
func (d *discovery) serveAPIs(w http.ResponseWriter, r *http.Request) {
	parts := splitPath(r.URL.Path)
	switch len(parts) {
	case 1:
		if wantsAggregated(r.Header.Get("Accept")) {
			writeJSON(w, http.StatusOK, aggregatedType, d.groups)
			return
		}
		writeJSON(w, http.StatusOK, mediaJSON, d.groupList)
		return
	case 2:
		if g, ok := d.groupByKey[parts[1]]; ok {
			writeJSON(w, http.StatusOK, mediaJSON, g)
			return
		}
	case 3:
		if list, ok := d.resources[parts[1]+"/"+parts[2]]; ok {
			writeJSON(w, http.StatusOK, mediaJSON, list)
			return
		}
	}
	writeError(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
}

// openAPIResources describes the served resources for the OpenAPI builder.
func openAPIResources(reg *registry.Registry) []openapi.Resource {
	var out []openapi.Resource
	for _, st := range reg.Stores() {
		res := st.Resource()
		r := openapi.Resource{
			Group: res.Group, Version: res.Version, Kind: res.Kind, Resource: res.Resource, ListKind: res.ListKind,
			Namespaced: res.Namespaced, Verbs: allVerbs,
		}
		for _, sub := range subresourcesOf(res) {
			os := openapi.Subresource{Name: sub.name, Verbs: sub.verbs}
			if !sub.kind.Empty() && sub.kind != res.GroupVersionKind() {
				os.Group, os.Version, os.Kind = sub.kind.Group, sub.kind.Version, sub.kind.Kind
			}
			r.Subresources = append(r.Subresources, os)
		}
		out = append(out, r)
	}
	return out
}
