// Package apitest starts in-process Capstan control planes for tests: raftstore members over
// real TCP on loopback, each serving the API over TLS on its own port.
package apitest

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/raftstore"
)

// Token is the bearer token of the cluster-admin user of every test cluster.
const Token = "apitest-admin-token"

// Member is one master: a store member and its API server.
type Member struct {
	ID     string
	Store  *raftstore.Store
	API    *apiserver.Server
	Server *httptest.Server
	// Lists counts LIST requests this member served (watches excluded).
	Lists atomic.Int64
}

// URL returns the member's API address.
func (m *Member) URL() string { return m.Server.URL }

// Cluster is a set of masters.
type Cluster struct {
	t       testing.TB
	dir     string
	mu      sync.Mutex // protects members
	members []*Member
}

// NewCluster starts n masters; the first bootstraps the store and the others join it. Each
// tweak adjusts every member's API server configuration, e.g. to set Config.Kubelet.
func NewCluster(t testing.TB, n int, tweaks ...func(*apiserver.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, dir: t.TempDir()}
	t.Cleanup(c.Close)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		sc := raftstore.DefaultConfig()
		sc.NodeID = fmt.Sprintf("m%d", i)
		sc.DataDir = filepath.Join(c.dir, sc.NodeID)
		sc.BindAddr = "127.0.0.1:0"
		sc.Bootstrap = i == 0
		sc.HeartbeatTimeout, sc.ElectionTimeout, sc.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
		sc.Autopilot.StabilizationTime, sc.Autopilot.Interval = 200*time.Millisecond, 50*time.Millisecond
		sc.Logger = log
		store, err := raftstore.Open(sc)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := store.WaitLeader(ctx); err != nil {
				t.Fatal(err)
			}
		} else if err := c.members[0].Store.AddNonvoter(ctx, sc.NodeID, store.Addr()); err != nil {
			t.Fatal(err)
		}
		cfg := apiserver.DefaultConfig()
		cfg.Backend = store
		cfg.Authenticator = apiserver.NewTokenAuthenticator(map[string]*apiserver.User{Token: {Name: "admin", Groups: []string{apiserver.GroupMasters}}})
		cfg.Logger = log
		for _, tweak := range tweaks {
			tweak(&cfg)
		}
		api, err := apiserver.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := &Member{ID: sc.NodeID, Store: store, API: api}
		h := api.Handler()
		m.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "" && isCollection(r.URL.Path) {
				m.Lists.Add(1)
			}
			h.ServeHTTP(w, r)
		}))
		m.Server.EnableHTTP2 = true
		m.Server.StartTLS()
		c.members = append(c.members, m)
	}
	c.waitVoters(ctx, n)
	if err := c.members[0].API.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// isCollection tells whether a path names a collection: /api/v1/pods, /api/v1/namespaces/x/pods,
// /apis/apps/v1/deployments, /apis/apps/v1/namespaces/x/deployments.
func isCollection(path string) bool {
	parts := len(strings.Split(strings.Trim(path, "/"), "/"))
	switch {
	case strings.HasPrefix(path, "/api/"):
		return parts == 3 || parts == 5
	case strings.HasPrefix(path, "/apis/"):
		return parts == 4 || parts == 6
	}
	return false
}

func (c *Cluster) waitVoters(ctx context.Context, n int) {
	for {
		ms, err := c.members[0].Store.Members(ctx)
		if err == nil {
			voters := 0
			for _, m := range ms {
				if m.Voter && m.Healthy {
					voters++
				}
			}
			if voters == n {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("cluster did not reach %d healthy voters", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Members returns the running members.
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// Leader waits for a ready leader and returns its member.
func (c *Cluster) Leader() *Member {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Members() {
			if m.Store.IsLeader() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := m.Store.WaitLeader(ctx)
				cancel()
				if err == nil {
					return m
				}
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	c.t.Fatal("no leader")
	return nil
}

// Follower returns a running member that is not the leader.
func (c *Cluster) Follower() *Member {
	c.t.Helper()
	leader := c.Leader()
	for _, m := range c.Members() {
		if m != leader {
			return m
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// Kill stops a member as a crash would: its API server goes away and its store stops without
// handing leadership over.
func (c *Cluster) Kill(m *Member) {
	c.mu.Lock()
	for i, x := range c.members {
		if x == m {
			c.members = append(c.members[:i], c.members[i+1:]...)
		}
	}
	c.mu.Unlock()
	m.Server.CloseClientConnections()
	m.Server.Close()
	m.Store.Abort()
}

// Close stops every member.
func (c *Cluster) Close() {
	for _, m := range c.Members() {
		m.API.Drain()
		m.Server.CloseClientConnections()
		m.Server.Close()
		m.Store.Close()
	}
}

// RESTConfig returns a client configuration for a member.
func (c *Cluster) RESTConfig(m *Member) *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.Server.Certificate().Raw})
	return &rest.Config{Host: m.URL(), BearerToken: Token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}, QPS: -1}
}

// Client returns a clientset for a member.
func (c *Cluster) Client(m *Member) *kubernetes.Clientset {
	return kubernetes.NewForConfigOrDie(c.RESTConfig(m))
}

// Kubeconfig writes a kubeconfig for a member and returns its path.
func (c *Cluster) Kubeconfig(m *Member) string {
	c.t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.Server.Certificate().Raw})
	path := filepath.Join(c.dir, m.ID+".kubeconfig")
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: capstan
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: capstan
  context: {cluster: capstan, user: admin, namespace: default}
current-context: capstan
`, m.URL(), base64.StdEncoding.EncodeToString(ca), Token)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}
