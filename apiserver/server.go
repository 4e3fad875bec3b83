package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/internal/openapi"
	"github.com/capstan-io/capstan/apiserver/internal/rbac"
	"github.com/capstan-io/capstan/apiserver/internal/resources"
	"github.com/capstan-io/capstan/apiserver/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server.
type Config struct {
	// Backend is the local member of the store.
	Backend registry.Backend
	// Resources holds cluster-wide settings (service CIDR, node ports).
	Resources resources.Config
	// Registry tunes the registry.
	Registry registry.Config
	// Authenticator identifies users; requests it does not recognise are anonymous and get 401
	// outside the public endpoints (/version, /healthz, /livez, /readyz).
	Authenticator Authenticator
	// Authorizer decides what users may do. With RBAC set the server evaluates Kubernetes RBAC
	// from its own store (and Run must be running); otherwise nil lets every authenticated
	// user do everything.
	Authorizer Authorizer
	// RBAC enables RBAC authorization and the admission checks that come with it (node
	// restriction, privilege escalation). It replaces Authorizer.
	RBAC bool
	// MaxRequestBodyBytes limits request bodies (3 MiB by default, as Kubernetes).
	MaxRequestBodyBytes int64
	// MaxWatchTimeout caps how long a watch without timeoutSeconds stays open.
	MaxWatchTimeout time.Duration
	// Kubelet configures how pods/log, exec, attach and portforward reach node agents; nil
	// answers them with 503.
	Kubelet *KubeletConfig
	// Ready reports whether the server should answer /readyz with ok.
	Ready func(ctx context.Context) error
	// Metrics is served on /metrics; nil serves nothing there.
	Metrics prometheus.Gatherer
	// Logger receives request errors. Nil discards them.
	Logger *slog.Logger
	// Now returns the current time, for table ages; tests replace it.
	Now func() time.Time
}

// DefaultConfig returns the defaults; Backend and Authenticator must still be set.
func DefaultConfig() Config {
	return Config{
		Resources:           resources.DefaultConfig(),
		Registry:            registry.DefaultConfig(),
		MaxRequestBodyBytes: 3 << 20,
		MaxWatchTimeout:     30 * time.Minute,
		Now:                 time.Now,
	}
}

// Server serves the Kubernetes API.
type Server struct {
	cfg       Config
	log       *slog.Logger
	reg       *registry.Registry
	discovery *discovery
	openapi   *openapi.Service
	mux       *http.ServeMux // non-resource endpoints
	draining  chan struct{}  // closed by Drain
	rbac      *rbacAuthorizer
}

// New builds a server.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil || cfg.Authenticator == nil {
		return nil, errors.New("apiserver: Backend and Authenticator are required")
	}
	if cfg.MaxRequestBodyBytes <= 0 || cfg.MaxWatchTimeout <= 0 || cfg.Now == nil {
		return nil, fmt.Errorf("apiserver: MaxRequestBodyBytes %d and MaxWatchTimeout %s must be positive and Now set", cfg.MaxRequestBodyBytes, cfg.MaxWatchTimeout)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res, err := resources.All(cfg.Resources)
	if err != nil {
		return nil, err
	}
	reg, err := registry.New(cfg.Backend, cfg.Registry, res)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, reg: reg, mux: http.NewServeMux(), draining: make(chan struct{})}
	s.discovery = newDiscovery(reg)
	if s.openapi, err = openapi.New(openAPIResources(reg)); err != nil {
		return nil, fmt.Errorf("apiserver: build OpenAPI documents: %w", err)
	}
	if err := s.openapi.Install(s.mux); err != nil {
		return nil, err
	}
	s.installNonResource()
	if cfg.RBAC {
		cache := newRuleCache(reg)
		s.rbac = &rbacAuthorizer{src: cache, a: rbac.New(cache)}
		s.cfg.Authorizer = s.rbac
	}
	return s, nil
}

// Run runs the server's background work (the RBAC rule cache) until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if s.rbac != nil {
		s.rbac.src.run(ctx)
	}
	<-ctx.Done()
	return nil
}

// Handle registers an extra handler for a non-resource path (for example the cluster's
// admin endpoints). Requests reach it after authentication and authorization.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Registry returns the registry, for in-process controllers.
func (s *Server) Registry() *registry.Registry { return s.reg }

// Drain makes open watches end cleanly and new ones be refused, before a shutdown.
func (s *Server) Drain() {
	select {
	case <-s.draining:
	default:
		close(s.draining)
	}
}

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// publicPaths may be read without credentials.
var publicPaths = map[string]bool{"/version": true, "/healthz": true, "/livez": true, "/readyz": true}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			writeError(w, apierrors.NewInternalError(fmt.Errorf("the server hit an unexpected error serving %s %s", r.Method, r.URL.Path)))
		}
	}()
	var user *User
	ok, err := false, error(nil)
	if _, loopback := loopbackFrom(r.Context()); loopback {
		user, ok = UserFrom(r.Context())
	} else {
		user, ok, err = s.cfg.Authenticator.AuthenticateRequest(r)
	}
	switch {
	case ok:
		user = withAuthenticatedGroup(user)
	case publicPaths[r.URL.Path] && err == nil:
		user = &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}
	default:
		writeError(w, statusError(http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized"))
		return
	}
	ctx := withUser(r.Context(), user)
	r = r.WithContext(ctx)
	info := parseRequestInfo(r)
	if s.cfg.Authorizer != nil && !(publicPaths[r.URL.Path] && !info.resource) {
		allowed, reason, err := s.cfg.Authorizer.Authorize(ctx, user, attributesOf(info))
		if err != nil {
			writeError(w, err)
			return
		}
		if !allowed {
			writeError(w, forbidden(user, info, reason))
			return
		}
	}
	if !info.resource {
		s.mux.ServeHTTP(w, r)
		return
	}
	s.serveResource(w, r, info)
}

func attributesOf(info requestInfo) Attributes {
	return Attributes{
		Verb: info.verb, ResourceRequest: info.resource, APIGroup: info.group, Resource: info.res,
		Subresource: info.subresource, Namespace: info.namespace, Name: info.name, Path: info.path,
	}
}

// forbidden is Kubernetes' 403 message.
func forbidden(u *User, info requestInfo, reason string) error {
	var msg string
	if info.resource {
		res := info.res
		if info.subresource != "" {
			res += "/" + info.subresource
		}
		msg = fmt.Sprintf("%s %q is forbidden: User %q cannot %s resource %q in API group %q", res, info.name, u.Name, info.verb, res, info.group)
		if info.namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", info.namespace)
		} else {
			msg += " at the cluster scope"
		}
	} else {
		msg = fmt.Sprintf("forbidden: User %q cannot %s path %q", u.Name, info.verb, info.path)
	}
	if reason != "" {
		msg += ": " + reason
	}
	st := newStatus(http.StatusForbidden, metav1.StatusReasonForbidden, msg)
	st.Details = &metav1.StatusDetails{Name: info.name, Group: info.group, Kind: info.res}
	return &apierrors.StatusError{ErrStatus: *st}
}

// installNonResource registers the endpoints outside the resource tree.
func (s *Server) installNonResource() {
	s.mux.HandleFunc("/version", s.serveVersion)
	s.mux.HandleFunc("/api", s.discovery.serveAPI)
	s.mux.HandleFunc("/api/", s.discovery.serveAPI)
	s.mux.HandleFunc("/apis", s.discovery.serveAPIs)
	s.mux.HandleFunc("/apis/", s.discovery.serveAPIs)
	for _, p := range []string{"/healthz", "/livez"} {
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { writeText(w, http.StatusOK, "ok") })
	}
	s.mux.HandleFunc("/readyz", s.serveReady)
	if s.cfg.Metrics != nil {
		s.mux.Handle("/metrics", promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, strings.TrimPrefix(r.URL.Path, "/")))
	})
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.draining:
		writeText(w, http.StatusServiceUnavailable, "shutting down")
		return
	default:
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
