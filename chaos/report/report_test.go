package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capstan-io/capstan/chaos/check"
	"github.com/capstan-io/capstan/chaos/history"
)

// stale is a history with a stale read after a leader kill.
func stale() *history.History {
	return &history.History{
		Ops: []history.Op{
			{Client: 0, Master: "m1", Kind: history.Create, Key: "k1", Value: "v1", Call: 0, Return: 10, Outcome: history.OK, RV: 5},
			{Client: 0, Master: "m1", Kind: history.Update, Key: "k1", Value: "v2", PrecondRV: 5, Call: 20, Return: 30, Outcome: history.OK, RV: 6},
			{Client: 1, Master: "m2", Kind: history.Get, Key: "k1", Value: "v1", Call: 40, Return: 50, Outcome: history.OK, RV: 5},
		},
		Faults: []history.Fault{{Kind: "kill-leader", Target: "m3", Inject: 15, Healed: 16, Recovered: 17}},
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name      string
		h         *history.History
		wantOK    bool
		wantFiles []string
	}{
		{name: "passing run", h: &history.History{}, wantOK: true, wantFiles: []string{"report.json", "summary.txt"}},
		{name: "failing run keeps the evidence", h: stale(), wantFiles: []string{"report.json", "summary.txt", "history.json", "linearizability.html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			results := check.Run(context.Background(), tt.h, []check.Checker{&check.Linearizability{}})
			r := Build(Run{Scenario: "test", Seed: 3, Masters: 3}, tt.h, results)
			if r.OK != tt.wantOK {
				t.Errorf("Build(%s).OK = %v; want %v", tt.name, r.OK, tt.wantOK)
			}
			if err := r.Write(dir, tt.h, results); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.wantFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("Write(%s) did not write %s: %v", tt.name, f, err)
				}
			}
			summary, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
			if !strings.Contains(string(summary), "seed 3") || !strings.Contains(string(summary), "targets:") {
				t.Errorf("summary.txt = %q; want the seed and the targets", summary)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	h := stale()
	r := Build(Run{}, h, nil)
	if len(r.Targets) != 2 {
		t.Fatalf("Build().Targets = %v; want 2", r.Targets)
	}
	// The first write sent after the kill at 15 returned at 30: 15 ns, far below the limit.
	if got := r.Targets[0]; !got.Met || got.N != 1 {
		t.Errorf("kill-leader target = %+v; want met with one sample", got)
	}
	if got := r.Targets[1]; got.Met || got.N != 0 {
		t.Errorf("transfer-leader target = %+v; want not measured", got)
	}
}
