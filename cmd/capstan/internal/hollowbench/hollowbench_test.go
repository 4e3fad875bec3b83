package hollowbench

import (
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no nodes", func(c *Config) { c.Nodes = 0 }, "nodes 0 must be between 1 and 10000"},
		{"too many nodes", func(c *Config) { c.Nodes = 10001 }, "nodes 10001 must be between 1 and 10000"},
		{"short idle", func(c *Config) { c.Idle = time.Millisecond }, "idle window 1ms must be at least 1s"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "timeout 0s must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMemoryOfThisProcess(t *testing.T) {
	rss, peak, err := memory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || peak < rss {
		t.Fatalf("memory = rss %d, peak %d; want 0 < rss <= peak", rss, peak)
	}
	if _, _, err := memory(0); err == nil {
		t.Fatal("memory(0) succeeded; want an error for a process that is not running")
	}
}

func TestCountEvents(t *testing.T) {
	w := watch.NewFakeWithChanSize(3, false)
	w.Add(&corev1.Node{})
	w.Modify(&corev1.Node{})
	w.Modify(&corev1.Node{})
	w.Stop()
	if n := countEvents(w); n != 3 {
		t.Fatalf("countEvents = %d, want 3", n)
	}
}
