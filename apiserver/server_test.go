package apiserver

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/raftstore"
)

const testToken = "test-admin-token"

// testServer is an API server on a single in-memory store member, served over TLS on loopback.
type testServer struct {
	store  *raftstore.Store
	api    *Server
	http   *httptest.Server
	config *rest.Config
	client *kubernetes.Clientset
}

func newTestServer(t testing.TB, tweak func(*Config)) *testServer {
	t.Helper()
	sc := raftstore.DefaultConfig()
	sc.NodeID, sc.InMemory, sc.Bootstrap, sc.BindAddr = "m0", true, true, "127.0.0.1:0"
	sc.HeartbeatTimeout, sc.ElectionTimeout, sc.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	sc.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := raftstore.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Backend = store
	cfg.Authenticator = NewTokenAuthenticator(map[string]*User{testToken: {Name: "admin", Groups: []string{GroupMasters}}})
	cfg.Logger = sc.Logger
	if tweak != nil {
		tweak(&cfg)
	}
	api, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rc := &rest.Config{Host: srv.URL, BearerToken: testToken, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: -1}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{store: store, api: api, http: srv, config: rc, client: client}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
