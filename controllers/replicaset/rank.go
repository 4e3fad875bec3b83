package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// DeletionCostAnnotation is the pod annotation whose int32 value ranks pods of
// the same ReplicaSet for deletion: lower costs go first.
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podPhaseOrdinal orders phases for deletion: pending pods go before pods of
// unknown phase, which go before running pods.
var podPhaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deletionOrder sorts pods so that the pods to delete first come first. It
// applies Kubernetes' ActivePodsWithRanks rules in turn, with the
// PodDeletionCost and LogarithmicScaleDown features on (their v1.32 defaults):
//
//  1. unassigned before assigned;
//  2. pending before unknown before running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost before higher;
//  5. more related pods on the same node before fewer (rank);
//  6. both ready: ready for less time before ready for longer, compared on a
//     log2 scale of the time since, ties broken by UID;
//  7. more container restarts before fewer;
//  8. newer before older, on the same log2 scale, ties broken by UID.
type deletionOrder struct {
	pods []*corev1.Pod
	rank []int
	now  time.Time
}

var _ sort.Interface = deletionOrder{}

// Len implements sort.Interface.
func (s deletionOrder) Len() int { return len(s.pods) }

// Swap implements sort.Interface.
func (s deletionOrder) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

// Less implements sort.Interface: it reports whether pod i should be deleted
// before pod j.
func (s deletionOrder) Less(i, j int) bool {
	pi, pj := s.pods[i], s.pods[j]
	// 1. Unassigned < assigned.
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	// 2. Pending < Unknown < Running.
	if oi, oj := podPhaseOrdinal[pi.Status.Phase], podPhaseOrdinal[pj.Status.Phase]; oi != oj {
		return oi < oj
	}
	// 3. Not ready < ready.
	ri, rj := podstate.IsReady(pi), podstate.IsReady(pj)
	if ri != rj {
		return !ri
	}
	// 4. Lower deletion cost < higher deletion cost.
	if ci, cj := deletionCost(pi), deletionCost(pj); ci != cj {
		return ci < cj
	}
	// 5. Doubled up < not doubled up.
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	// 6. Ready for a shorter time < ready for longer.
	if ri && rj {
		ti, tj := podstate.ReadySince(pi), podstate.ReadySince(pj)
		if !ti.Equal(tj) {
			if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
				return afterOrZero(ti, tj)
			}
			if d := logRankDiff(ti, tj, s.now); d != 0 {
				return d < 0
			}
			return pi.UID < pj.UID
		}
	}
	// 7. More restarts < fewer restarts.
	if mi, mj := maxRestarts(pi), maxRestarts(pj); mi != mj {
		return mi > mj
	}
	// 8. Newer < older.
	ti, tj := pi.CreationTimestamp.Time, pj.CreationTimestamp.Time
	if !ti.Equal(tj) {
		if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
			return afterOrZero(ti, tj)
		}
		if d := logRankDiff(ti, tj, s.now); d != 0 {
			return d < 0
		}
		return pi.UID < pj.UID
	}
	return false
}

// afterOrZero orders a zero time first, then later times before earlier ones.
func afterOrZero(t1, t2 time.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2)
}

// logRankDiff compares how long ago t1 and t2 were on a log2 scale of
// nanoseconds, so that pods of similar age compare equal.
func logRankDiff(t1, t2, now time.Time) int64 {
	d1, d2 := now.Sub(t1), now.Sub(t2)
	r1, r2 := int64(-1), int64(-1)
	if d1 > 0 {
		r1 = int64(math.Log2(float64(d1)))
	}
	if d2 > 0 {
		r2 = int64(math.Log2(float64(d2)))
	}
	return r1 - r2
}

// maxRestarts returns the highest restart count among pod's containers.
func maxRestarts(pod *corev1.Pod) int32 {
	var n int32
	for _, c := range pod.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// deletionCost returns pod's deletion cost; missing or invalid values count
// as zero. Like Kubernetes it rejects a leading '+' and leading zeros.
func deletionCost(pod *corev1.Pod) int32 {
	v, ok := pod.Annotations[DeletionCostAnnotation]
	if !ok || v == "" {
		return 0
	}
	if !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// podsToDelete returns the n pods of pods to delete first. related are the
// pods used to rank co-location: every active pod they place on a node adds
// one to the rank of the candidates on that node. pods is reordered in place.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := make(map[string]int)
	for _, p := range related {
		if podstate.IsActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	rank := make([]int, len(pods))
	for i, p := range pods {
		rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(deletionOrder{pods: pods, rank: rank, now: now})
	return pods[:n]
}
