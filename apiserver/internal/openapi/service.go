package openapi

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Serving paths.
const (
	v2Path = "/openapi/v2"
	v3Path = "/openapi/v3"
)

// Document metadata. The title is the reference apiserver's, which some
// clients display; the documents describe no release of their own.
const (
	docTitle   = "Kubernetes"
	docVersion = "unversioned"
	// bearerToken names the security scheme: Capstan authenticates with
	// bearer tokens in the Authorization header.
	bearerToken = "BearerToken"
)

// Service holds the built OpenAPI documents and serves them. It is immutable
// and safe for concurrent use.
type Service struct {
	// v2 is the OpenAPI v2 document with every path.
	v2 *spec.Swagger
	// v3 holds one OpenAPI v3 document per group version, keyed "api/v1" or
	// "apis/<group>/<version>".
	v3 map[string]*spec3.OpenAPI
}

// New builds the OpenAPI v2 document and the per-group-version OpenAPI v3
// documents for resources. Each group version also gets its discovery path
// (GET /api/v1/, GET /apis/<group>/<version>/).
//
// It fails with ErrInvalidResource when a resource is malformed or listed
// twice, and with ErrUnknownKind when a kind (including a list or
// subresource kind) is outside the group versions compiled into this package.
// New does not keep resources.
func New(resources []Resource) (*Service, error) {
	cat, err := sharedCatalog()
	if err != nil {
		return nil, err
	}
	builders := map[schema.GroupVersion]*routeBuilder{}
	seen := map[schema.GroupVersionResource]bool{}
	for i := range resources {
		r := &resources[i]
		if err := r.validate(); err != nil {
			return nil, err
		}
		gv := r.groupVersion()
		gvr := gv.WithResource(r.Resource)
		if seen[gvr] {
			return nil, fmt.Errorf("%w: %s listed twice", ErrInvalidResource, gvr)
		}
		seen[gvr] = true
		b, ok := builders[gv]
		if !ok {
			b = &routeBuilder{cat: cat, p: newGVPaths(gv)}
			b.addDiscovery()
			builders[gv] = b
		}
		if err := b.addResource(r); err != nil {
			return nil, err
		}
	}

	keys := make([]string, 0, len(builders))
	byKey := map[string]*routeBuilder{}
	for _, b := range builders {
		keys = append(keys, b.p.v3Key)
		byKey[b.p.v3Key] = b
	}
	sort.Strings(keys)

	s := &Service{v3: map[string]*spec3.OpenAPI{}}
	containers := make([]common.RouteContainer, 0, len(keys))
	for _, k := range keys {
		b := byKey[k]
		c := &container{root: b.p.prefix, routes: b.routes}
		containers = append(containers, c)
		doc, err := builder3.BuildOpenAPISpecFromRoutes([]common.RouteContainer{c}, v3Config(cat))
		if err != nil {
			return nil, fmt.Errorf("openapi: building the v3 document of %s: %v", k, err)
		}
		s.v3[k] = doc
	}
	s.v2, err = builder.BuildOpenAPISpecFromRoutes(containers, v2Config(cat))
	if err != nil {
		return nil, fmt.Errorf("openapi: building the v2 document: %v", err)
	}
	return s, nil
}

// v2Config returns a fresh builder configuration for the v2 document; the
// builder writes defaults into the configuration it is given.
func v2Config(cat *catalog) *common.Config {
	return &common.Config{
		Info: &spec.Info{InfoProps: spec.InfoProps{Title: docTitle, Version: docVersion}},
		CommonResponses: map[int]spec.Response{
			http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: "Unauthorized"}},
		},
		GetDefinitions:                 GetOpenAPIDefinitions,
		GetDefinitionName:              cat.definitionName,
		GetOperationIDAndTagsFromRoute: operationIDAndTags,
		SecurityDefinitions: &spec.SecurityDefinitions{
			bearerToken: &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
				Type:        "apiKey",
				Name:        "authorization",
				In:          "header",
				Description: "Bearer Token authentication",
			}},
		},
		DefaultSecurity: []map[string][]string{{bearerToken: {}}},
	}
}

// v3Config returns a fresh builder configuration for one v3 document.
func v3Config(cat *catalog) *common.OpenAPIV3Config {
	return &common.OpenAPIV3Config{
		Info: &spec.Info{InfoProps: spec.InfoProps{Title: docTitle, Version: docVersion}},
		CommonResponses: map[int]*spec3.Response{
			http.StatusUnauthorized: {ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}},
		},
		GetDefinitions:                 GetOpenAPIDefinitions,
		GetDefinitionName:              cat.definitionName,
		GetOperationIDAndTagsFromRoute: operationIDAndTags,
		SecuritySchemes: spec3.SecuritySchemes{
			bearerToken: &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
				Type:        "apiKey",
				Name:        "authorization",
				In:          "header",
				Description: "Bearer Token authentication",
			}},
		},
		PostProcessSpec: func(doc *spec3.OpenAPI) (*spec3.OpenAPI, error) {
			doc.SecurityRequirement = []map[string][]string{{bearerToken: {}}}
			return doc, nil
		},
	}
}

// Install registers the documents on mux: /openapi/v2, the /openapi/v3 index
// and /openapi/v3/<api/v1|apis/group/version>. A v3 path for a group version
// without a document answers 404. Install fails with ErrAlreadyRegistered,
// leaving mux unchanged, when mux already has a handler for one of these
// exact patterns.
func (s *Service) Install(mux *http.ServeMux) error {
	for _, p := range []string{v2Path, v3Path, v3Path + "/"} {
		if _, pattern := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}}); pattern == p {
			return fmt.Errorf("%w: %s", ErrAlreadyRegistered, p)
		}
	}

	handler.NewOpenAPIService(s.v2).RegisterOpenAPIVersionedService(v2Path, mux)

	v3 := handler3.NewOpenAPIService()
	for k, doc := range s.v3 {
		v3.UpdateGroupVersion(k, doc)
	}
	return v3.RegisterOpenAPIV3VersionedService(v3Path, &v3Mux{mux: mux, docs: s.v3})
}

// v3Mux adapts an http.ServeMux to the registration interface of handler3,
// and answers 404 for group versions without a document, for which handler3
// would send an empty 200.
type v3Mux struct {
	mux  *http.ServeMux
	docs map[string]*spec3.OpenAPI
}

var _ common.PathHandlerByGroupVersion = (*v3Mux)(nil)

// Handle registers h for the exact path.
func (m *v3Mux) Handle(path string, h http.Handler) { m.mux.Handle(path, h) }

// HandlePrefix registers h for every path under prefix, which ends in "/".
func (m *v3Mux) HandlePrefix(prefix string, h http.Handler) {
	m.mux.Handle(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.docs[strings.TrimPrefix(r.URL.Path, prefix)]; !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
}
