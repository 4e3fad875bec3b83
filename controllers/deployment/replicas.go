package deployment

import (
	"fmt"
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// defaultRollingParam is the API default of maxSurge and maxUnavailable.
var defaultRollingParam = intstr.FromString("25%")

// replicasOf returns d's desired replicas; the API defaults a missing value to 1.
func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rsReplicas returns rs's desired replicas; the API defaults a missing value to 1.
func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// isRollingUpdate reports whether d uses the RollingUpdate strategy.
func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// rollingParams returns d's maxSurge and maxUnavailable, defaulted as the API does.
func rollingParams(d *appsv1.Deployment) (surge, unavailable *intstr.IntOrString) {
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil {
		return &defaultRollingParam, &defaultRollingParam
	}
	return ru.MaxSurge, ru.MaxUnavailable
}

// resolveFenceposts turns maxSurge and maxUnavailable into absolute numbers
// for desired replicas: surge rounds percentages up, unavailability rounds
// them down, and if both come out zero unavailability becomes one so that
// the rollout can proceed.
func resolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (int32, int32, error) {
	zero := intstr.FromInt32(0)
	surge, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, zero), int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid maxSurge: %w", err)
	}
	unavailable, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, zero), int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid maxUnavailable: %w", err)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return int32(surge), int32(unavailable), nil
}

// maxSurge returns how many pods d may run above spec.replicas; zero unless
// d rolls.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, u := rollingParams(d)
	surge, _, _ := resolveFenceposts(s, u, replicasOf(d)) // validation rejects bad values
	return surge
}

// maxUnavailable returns how many of d's pods may be unavailable; zero unless
// d rolls, and never more than spec.replicas.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || replicasOf(d) == 0 {
		return 0
	}
	s, u := rollingParams(d)
	_, unavailable, _ := resolveFenceposts(s, u, replicasOf(d))
	return min(unavailable, replicasOf(d))
}

// newRSNewReplicas returns the size the new ReplicaSet may grow to now: up to
// spec.replicas + maxSurge pods in total for RollingUpdate, spec.replicas for
// Recreate.
func newRSNewReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	switch d.Spec.Strategy.Type {
	case appsv1.RollingUpdateDeploymentStrategyType:
		s, u := rollingParams(d)
		surge, _, err := resolveFenceposts(s, u, replicasOf(d))
		if err != nil {
			return 0, err
		}
		current := replicaCount(allRSs)
		maxTotal := replicasOf(d) + surge
		if current >= maxTotal {
			return rsReplicas(newRS), nil
		}
		up := min(maxTotal-current, replicasOf(d)-rsReplicas(newRS))
		return rsReplicas(newRS) + up, nil
	case appsv1.RecreateDeploymentStrategyType:
		return replicasOf(d), nil
	default:
		return 0, fmt.Errorf("%w: %q", ErrUnknownStrategy, d.Spec.Strategy.Type)
	}
}

// proportion estimates how many replicas rs gains (or loses, when negative)
// when toAdd replicas are spread over the Deployment's active ReplicaSets and
// added of them are already placed. It never exceeds what is left to place.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

// replicaSetFraction is rs's share of a scaling event: its size scaled from
// the Deployment's previous maximum (the max-replicas annotation, or
// status.replicas without it) to the current spec.replicas + maxSurge.
func replicaSetFraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	deploymentReplicas := replicasOf(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		// Kubernetes divides by zero here and rounds +Inf; keep the size instead.
		return 0
	}
	size := float64(rsReplicas(rs)*deploymentReplicas) / float64(annotated)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// isSaturated reports whether rs is the Deployment's full-size, fully
// available new ReplicaSet and knows it (its desired-replicas annotation
// matches).
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	if !ok {
		return false
	}
	return rsReplicas(rs) == replicasOf(d) && desired == replicasOf(d) && rs.Status.AvailableReplicas == replicasOf(d)
}

// replicaCount sums spec.replicas over rss, skipping nils.
func replicaCount(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rsReplicas(rs)
		}
	}
	return n
}

// statusCount sums f(rs.Status) over rss, skipping nils.
func statusCount(rss []*appsv1.ReplicaSet, f func(appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs.Status)
		}
	}
	return n
}

// The status fields statusCount sums.
func actualReplicas(s appsv1.ReplicaSetStatus) int32    { return s.Replicas }
func readyReplicas(s appsv1.ReplicaSetStatus) int32     { return s.ReadyReplicas }
func availableReplicas(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas }

// filterActive returns the non-nil ReplicaSets of rss with replicas > 0.
func filterActive(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// findActiveOrLatest returns the only active ReplicaSet, or the newest one
// when none is active, or nil when several are active (they must be scaled
// proportionally). It sorts oldRSs newest first.
func findActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	sort.Sort(sort.Reverse(byCreation(oldRSs)))
	active := filterActive(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return oldRSs[0]
	case 1:
		return active[0]
	default:
		return nil
	}
}
