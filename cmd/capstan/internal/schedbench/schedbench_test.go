package schedbench

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/apiserver/apitest"
	"github.com/capstan-io/capstan/controllers/manager"
)

// TestRunMeasures runs a small benchmark against an in-process cluster whose leader runs the
// controllers: every pod must be bound and measured; no performance figure is checked.
func TestRunMeasures(t *testing.T) {
	c := apitest.NewCluster(t, 1)
	// Not t.Output(): the controllers' event recorder may still log after the test ends.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, m := range c.Members() {
		m.Store.WhileLeader(func(ctx context.Context) {
			cfg := manager.DefaultConfig()
			cfg.API, cfg.Fence, cfg.Logger = m.API, m.Store.LeaderFence, log
			if err := manager.Run(ctx, cfg); err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Master: c.RESTConfig(c.Leader()), Namespace: "bench", Nodes: 5, Pods: 60, PodsPerDeployment: 25, Timeout: time.Minute, Cleanup: true}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bound != 60 || rep.PodsPerSecond <= 0 || rep.P50 > rep.P99 || rep.P99 > rep.Max {
		t.Errorf("report %+v; want 60 bound pods, a rate and ordered percentiles", rep)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Master = &rest.Config{}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{name: "default", edit: func(*Config) {}, ok: true},
		{name: "no master", edit: func(c *Config) { c.Master = nil }},
		{name: "no nodes", edit: func(c *Config) { c.Nodes = 0 }},
		{name: "too many pods", edit: func(c *Config) { c.Nodes, c.Pods = 2, 221 }},
		{name: "most nodes", edit: func(c *Config) { c.Nodes = maxNodes }, ok: true},
		{name: "too many nodes", edit: func(c *Config) { c.Nodes = maxNodes + 1 }},
		{name: "no timeout", edit: func(c *Config) { c.Timeout = 0 }},
		{name: "no namespace", edit: func(c *Config) { c.Namespace = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestNodeCIDR(t *testing.T) {
	cluster := netip.MustParsePrefix("100.64.0.0/10")
	tests := []struct {
		i    int
		want string
	}{
		{0, "100.64.0.0/24"},
		{1, "100.64.1.0/24"},
		{255, "100.64.255.0/24"},
		{256, "100.65.0.0/24"},
		{maxNodes - 1, "100.127.255.0/24"},
	}
	for _, tt := range tests {
		got := nodeCIDR(tt.i)
		if got.String() != tt.want || !cluster.Contains(got.Addr()) {
			t.Errorf("nodeCIDR(%d) = %s; want %s, inside %s", tt.i, got, tt.want, cluster)
		}
	}
}
