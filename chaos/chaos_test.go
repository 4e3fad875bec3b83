package chaos_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/chaos/report"
	"github.com/capstan-io/capstan/chaos/scenario"
)

// capstanBinary is built once; the suite runs `capstan chaos run` with it, which launches real
// `capstan server` processes from the same binary.
var capstanBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test here skips with -short: build nothing
	}
	cluster.RunWithBinary(m, &capstanBinary)
}

// ciLogStore is the log store of the CI runs: the default, raft-wal.
const ciLogStore = "wal"

// runChaos runs `capstan chaos run` and returns its report. The output directory is kept
// when the run fails, so the evidence survives the test.
func runChaos(t *testing.T, timeout time.Duration, args ...string) *report.Report {
	t.Helper()
	out, err := os.MkdirTemp("", "capstan-chaos-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"chaos", "run", "--out", out}, args...)
	if netnsUsable() {
		args = append(args, "--netns")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, capstanBinary, args...)
	cmd.WaitDelay = 30 * time.Second
	output, runErr := cmd.CombinedOutput()
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("capstan %s: %v; no report (%v); output:\n%s", strings.Join(args, " "), runErr, err, tail(output, 60))
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	summary, _ := os.ReadFile(filepath.Join(out, "summary.txt"))
	t.Logf("capstan %s\n%s", strings.Join(args, " "), summary)
	if runErr != nil || !rep.OK {
		t.Errorf("chaos run failed (%v); evidence kept in %s", runErr, out)
		for _, c := range rep.Checks {
			for _, v := range c.Violations {
				t.Errorf("violation: %s", v)
			}
		}
		return &rep
	}
	os.RemoveAll(out)
	return &rep
}

// netnsUsable reports whether `capstan chaos run --netns` can run here: root, nft and ip, and
// permission to create a network namespace (a container may deny it even to root).
func netnsUsable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	for _, tool := range []string{"nft", "ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return exec.Command("unshare", "--net", "true").Run() == nil
}

func tail(b []byte, lines int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestShortSuite runs the CI scenario (10 hollow nodes; 20 leader kills, 10 leadership transfers, then one of
// every other fault kind) on real processes and fails on any invariant violation. Fault kinds
// this machine cannot inject are reported as skipped subtests.
func TestShortSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite launches real clusters for minutes; skipped with -short")
	}
	rep := runChaos(t, 7*time.Minute, "--scenario", "ci", "--seed", "1", "--duration", "10s", "--raft-log-store", ciLogStore, "--hollow", "10")
	kinds := scenario.FaultKinds()
	sort.Strings(kinds)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if why, ok := rep.Skipped[kind]; ok {
				t.Skip(why)
			}
			if rep.Faults[kind] == 0 {
				t.Errorf("the CI scenario injected no %s fault", kind)
			}
		})
	}
	for _, target := range rep.Targets {
		// Availability depends on the machine's load: stated, not enforced.
		t.Logf("target %s: measured %.0f ms (limit %.0f ms, n=%d), met=%v", target.Name, target.MeasuredMs, target.LimitMs, target.N, target.Met)
	}
}

// TestRegressions replays every pinned run that once found a bug.
func TestRegressions(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite launches real clusters; skipped with -short")
	}
	for _, r := range scenario.Regressions() {
		t.Run(r.Name, func(t *testing.T) {
			if r.Open != "" {
				t.Skip(r.Open)
			}
			args := []string{"--scenario", r.Scenario, "--seed", fmt.Sprint(r.Seed), "--duration", r.Duration.String()}
			if r.LogStore != "" {
				args = append(args, "--raft-log-store", r.LogStore)
			}
			runChaos(t, r.Duration+3*time.Minute, args...)
		})
	}
}
