package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestDeletionOrderLess(t *testing.T) {
	now := t0
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name         string
		first, other *corev1.Pod
		rank         [2]int
	}{
		{name: "unassigned before assigned", first: newPod("a", "web", nil, onNode("")), other: newPod("b", "web", nil)},
		{name: "pending before unknown", first: newPod("a", "web", nil, inPhase(corev1.PodPending)), other: newPod("b", "web", nil, inPhase(corev1.PodUnknown))},
		{name: "unknown before running", first: newPod("a", "web", nil, inPhase(corev1.PodUnknown)), other: newPod("b", "web", nil)},
		{name: "not ready before ready", first: newPod("a", "web", nil, notReady()), other: newPod("b", "web", nil)},
		{name: "lower deletion cost first", first: newPod("a", "web", nil, deletionCostOf("1")), other: newPod("b", "web", nil, deletionCostOf("2"))},
		{name: "invalid deletion cost counts as zero", first: newPod("a", "web", nil, deletionCostOf("+5")), other: newPod("b", "web", nil, deletionCostOf("1"))},
		{name: "doubled up first", first: newPod("a", "web", nil), other: newPod("b", "web", nil), rank: [2]int{3, 1}},
		{name: "ready more recently first", first: newPod("a", "web", nil, readyAt(ago(time.Second))), other: newPod("b", "web", nil, readyAt(ago(time.Hour)))},
		{name: "same log2 ready bucket: UID breaks the tie", first: newPod("a", "web", nil, readyAt(ago(100*time.Second))), other: newPod("b", "web", nil, readyAt(ago(101*time.Second)))},
		{name: "more restarts first", first: newPod("a", "web", nil, restarts(3)), other: newPod("b", "web", nil, restarts(1))},
		{name: "newer first", first: newPod("a", "web", nil, createdAt(ago(time.Minute))), other: newPod("b", "web", nil, createdAt(ago(24*time.Hour)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := deletionOrder{pods: []*corev1.Pod{tt.first, tt.other}, rank: []int{tt.rank[0], tt.rank[1]}, now: now}
			if !s.Less(0, 1) {
				t.Errorf("Less(%s, %s) = false; want true", tt.first.Name, tt.other.Name)
			}
			if s.Less(1, 0) {
				t.Errorf("Less(%s, %s) = true; want false", tt.other.Name, tt.first.Name)
			}
		})
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name          string
		count         int
		failFrom      int64 // calls are numbered from 1; from this one on they fail; 0: none fails
		wantCalls     int64
		wantSuccesses int
	}{
		{name: "zero", count: 0, wantCalls: 0, wantSuccesses: 0},
		{name: "all succeed in batches 1, 2, 4", count: 7, wantCalls: 7, wantSuccesses: 7},
		{name: "first call fails: nothing else is tried", count: 7, failFrom: 1, wantCalls: 1, wantSuccesses: 0},
		{name: "failure in the second batch ends it", count: 7, failFrom: 3, wantCalls: 3, wantSuccesses: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			got, err := slowStartBatch(tt.count, 1, func() error {
				if n := calls.Add(1); tt.failFrom > 0 && n >= tt.failFrom {
					return errTest
				}
				return nil
			})
			if got != tt.wantSuccesses || calls.Load() != tt.wantCalls || (err != nil) != (tt.failFrom > 0) {
				t.Errorf("slowStartBatch(%d) = %d, %v after %d calls; want %d successes after %d calls",
					tt.count, got, err, calls.Load(), tt.wantSuccesses, tt.wantCalls)
			}
		})
	}
}

// errTest is the failure injected by tests.
var errTest = errors.New("test failure")
