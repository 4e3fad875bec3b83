package apibench

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/apiserver/apitest"
)

// TestRunMeasures runs a very short benchmark against an in-process cluster: it checks that
// every run measures real operations without errors, not any performance figure.
func TestRunMeasures(t *testing.T) {
	c := apitest.NewCluster(t, 3)
	var masters []*rest.Config
	for _, m := range c.Members() {
		masters = append(masters, c.RESTConfig(m))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Masters: masters, Namespace: "bench", Clients: 2, Duration: 300 * time.Millisecond, Watchers: 3, WatchEvents: 5})
	if err != nil {
		t.Fatal(err)
	}
	wantOps := []string{"create", "update", "get", "list-100", "watch-delivery"}
	if len(rep.Results) != len(wantOps) {
		t.Fatalf("got %d results; want %d", len(rep.Results), len(wantOps))
	}
	for i, r := range rep.Results {
		if !strings.HasPrefix(r.Op, wantOps[i]) || r.Ops == 0 || r.Errors != 0 || r.P99 < r.P50 {
			t.Errorf("result %d = %+v; want %s with operations, no errors and ordered percentiles", i, r, wantOps[i])
		}
	}
	if got := rep.Results[4].Ops; got != 15 {
		t.Errorf("watch delivery measured %d arrivals; want 5 writes x 3 watchers", got)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Masters: []*rest.Config{{}}, Namespace: "b", Clients: 1, Duration: time.Second, WatchEvents: 1}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{name: "valid", edit: func(*Config) {}, ok: true},
		{name: "no masters", edit: func(c *Config) { c.Masters = nil }},
		{name: "no clients", edit: func(c *Config) { c.Clients = 0 }},
		{name: "no duration", edit: func(c *Config) { c.Duration = 0 }},
		{name: "no namespace", edit: func(c *Config) { c.Namespace = "" }},
		{name: "negative watchers", edit: func(c *Config) { c.Watchers = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		if err := c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok=%v", tt.name, err, tt.ok)
		}
	}
}
