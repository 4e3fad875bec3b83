package ownership

import (
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestExpectations(t *testing.T) {
	const key = "default/web"
	tests := []struct {
		name string
		run  func(e *Expectations, clk *testingclock.FakeClock)
		want bool
	}{
		{name: "nothing recorded", run: func(*Expectations, *testingclock.FakeClock) {}, want: true},
		{name: "creations pending", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectCreations(key, 2)
			e.CreationObserved(key)
		}, want: false},
		{name: "creations observed", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectCreations(key, 2)
			e.CreationObserved(key)
			e.CreationObserved(key)
		}, want: true},
		{name: "deletions observed once per pod", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectDeletions(key, []string{"default/a", "default/b"})
			e.DeletionObserved(key, "default/a")
			e.DeletionObserved(key, "default/a")
		}, want: false},
		{name: "all deletions observed", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectDeletions(key, []string{"default/a", "default/b"})
			e.DeletionObserved(key, "default/b")
			e.DeletionObserved(key, "default/a")
		}, want: true},
		{name: "unexpected pods are ignored", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectDeletions(key, []string{"default/a"})
			e.DeletionObserved(key, "default/x")
		}, want: false},
		{name: "not expired at the timeout", run: func(e *Expectations, clk *testingclock.FakeClock) {
			e.ExpectCreations(key, 1)
			clk.Step(ExpectationsTimeout)
		}, want: false},
		{name: "expired after the timeout", run: func(e *Expectations, clk *testingclock.FakeClock) {
			e.ExpectCreations(key, 1)
			clk.Step(ExpectationsTimeout + time.Nanosecond)
		}, want: true},
		{name: "deleted", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectCreations(key, 1)
			e.Delete(key)
		}, want: true},
		{name: "replaced by new expectations", run: func(e *Expectations, _ *testingclock.FakeClock) {
			e.ExpectDeletions(key, []string{"default/a"})
			e.ExpectCreations(key, 0)
		}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			e := NewExpectations(clk)
			tt.run(e, clk)
			if got := e.Satisfied(key); got != tt.want {
				adds, dels := e.Pending(key)
				t.Errorf("Satisfied() = %v (pending %d creations, %d deletions); want %v", got, adds, dels, tt.want)
			}
		})
	}
}
