package storebench

import (
	"context"
	"testing"
	"time"

	"github.com/capstan-io/capstan/raftstore"
)

// TestRunMeasures runs a very short benchmark: it checks the harness measures real operations
// without errors, not any performance figure.
func TestRunMeasures(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Concurrency = []int{1, 4}
	cfg.Readers = 2
	cfg.Duration = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, run := range []struct {
		name string
		fn   func(context.Context, Config) (Report, error)
		runs int
	}{
		{name: "raftstore", fn: Run, runs: 3},
		{name: "baseline", fn: RunBaseline, runs: 2},
	} {
		t.Run(run.name, func(t *testing.T) {
			rep, err := run.fn(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != run.runs {
				t.Fatalf("got %d results; want %d", len(rep.Results), run.runs)
			}
			for _, r := range rep.Results {
				if r.Ops == 0 || r.Errors != 0 || r.P50 <= 0 || r.P99 < r.P50 {
					t.Errorf("result %+v: want operations, no errors and ordered percentiles", r)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{name: "default", edit: func(*Config) {}, ok: true},
		{name: "no members", edit: func(c *Config) { c.Members = 0 }},
		{name: "follower of one", edit: func(c *Config) { c.Members, c.ViaFollower = 1, true }},
		{name: "zero writers", edit: func(c *Config) { c.Concurrency = []int{0} }},
		{name: "no duration", edit: func(c *Config) { c.Duration = 0 }},
		{name: "bolt", edit: func(c *Config) { c.LogStore = raftstore.LogStoreBolt }, ok: true},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok=%v", tt.name, err, tt.ok)
		}
	}
}
