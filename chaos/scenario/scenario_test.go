package scenario

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// planOf summarizes a plan as fault kinds and holds.
func planOf(s Scenario, seed uint64) []string {
	var out []string
	for _, st := range s.Plan(rand.New(rand.NewPCG(seed, seed))) {
		out = append(out, st.Fault.Kind()+"/"+st.Hold.String()+"/"+st.Quiet.Round(time.Millisecond).String())
	}
	return out
}

func TestPlansReplayFromTheSeed(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			a, b := planOf(s, 7), planOf(s, 7)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s.Plan(seed 7) = %v, then %v; want the same plan", s.Name, a, b)
			}
		})
	}
}

func TestCIPlan(t *testing.T) {
	s, err := Lookup("ci")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, st := range s.Plan(rand.New(rand.NewPCG(1, 1))) {
		counts[st.Fault.Kind()]++
	}
	if counts["kill-leader"] != 20 || counts["transfer-leader"] != 10 {
		t.Errorf("ci plan = %v; want 20 kill-leader and 10 transfer-leader", counts)
	}
	for _, k := range FaultKinds() {
		if counts[k] == 0 {
			t.Errorf("ci plan = %v; want at least one %s", counts, k)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error
	}{
		{name: "kill-leader"},
		{name: "ci"},
		{name: "no-such", wantErr: ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lookup(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lookup(%q) = %v; want %v", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestSingle(t *testing.T) {
	s, err := Single("regression", "snapshot-install", "kill-leader")
	if err != nil {
		t.Fatal(err)
	}
	if got := planOf(s, 1); len(got) != 2 || len(s.ServerArgs) == 0 {
		t.Errorf("Single(snapshot-install, kill-leader) = plan %v, args %v; want 2 steps and snapshot settings", got, s.ServerArgs)
	}
	if _, err := Single("bad", "no-such"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Single(no-such) = %v; want %v", err, ErrUnknown)
	}
}
