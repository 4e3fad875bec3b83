package daemonset

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstan-io/capstan/controllers/internal/podstate"
)

// rollingUpdate replaces pods of an old revision, as Kubernetes' DaemonSet
// rollingUpdate does. Without maxSurge it deletes old pods (unavailable ones
// at once, available ones while fewer than maxUnavailable nodes are without
// an available daemon pod); manage then creates the new pods. With maxSurge
// it creates the new pod first on up to maxSurge nodes (at once where the old
// pod is unavailable) and deletes the old pod once the new one is available.
func (c *Controller) rollingUpdate(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod, hash string) error {
	desired := map[string]bool{}
	for _, node := range nodes {
		if shouldRunOn(node, ds).run {
			desired[node.Name] = true
		}
	}
	maxSurge, maxUnavailable, err := updateLimits(ds, len(desired))
	if err != nil {
		return err
	}
	// Visit every node with pods and every node that should have one, in a
	// stable order.
	visit := map[string][]*corev1.Pod{}
	for name, pods := range nodeToPods {
		visit[name] = pods
	}
	for name := range desired {
		if _, ok := visit[name]; !ok {
			visit[name] = nil
		}
	}
	now := c.clock.Now()
	available := func(p *corev1.Pod) bool { return podstate.IsAvailable(p, ds.Spec.MinReadySeconds, now) }

	if maxSurge == 0 {
		var numUnavailable int
		var replace, candidates []*corev1.Pod
		for _, name := range sortedKeys(visit) {
			newPod, oldPod, ok := updatedPodsOnNode(ds, visit[name], hash)
			switch {
			case !ok, newPod == nil && oldPod == nil, newPod != nil && oldPod != nil:
				// manage sorts this node out; meanwhile it counts as unavailable.
				numUnavailable++
			case newPod != nil:
				if !available(newPod) {
					numUnavailable++
				}
			case !available(oldPod):
				// Replacing an unavailable pod costs no availability.
				replace = append(replace, oldPod)
				numUnavailable++
			case numUnavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		room := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
		return c.syncNodes(ctx, key, ds, append(replace, candidates[:room]...), nil, hash)
	}

	var numSurge int
	var remove []*corev1.Pod
	var allowed, candidates []string
	for _, name := range sortedKeys(visit) {
		newPod, oldPod, ok := updatedPodsOnNode(ds, visit[name], hash)
		switch {
		case !ok:
			numSurge++
		case oldPod == nil:
			// Nothing to replace; manage creates a missing pod.
		case newPod == nil:
			switch {
			case !available(oldPod):
				allowed = append(allowed, name)
			case numSurge < maxSurge:
				candidates = append(candidates, name)
			}
		case !available(newPod):
			// Surged; waiting for the new pod.
			numSurge++
		default:
			remove = append(remove, oldPod)
		}
	}
	room := min(max(maxSurge-numSurge, 0), len(candidates))
	return c.syncNodes(ctx, key, ds, remove, append(allowed, candidates[:room]...), hash)
}

// updatedPodsOnNode returns the one current-revision pod and the one
// old-revision pod among pods (not counting pods being deleted); ok is false
// when there are more than one of either, which manage cleans up first.
func updatedPodsOnNode(ds *appsv1.DaemonSet, pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(p, ds, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// isUpdated reports whether pod runs ds's current template: its
// controller-revision-hash label is hash, or its pod-template-generation label
// is ds's generation.
func isUpdated(pod *corev1.Pod, ds *appsv1.DaemonSet, hash string) bool {
	if hash != "" && pod.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
		return true
	}
	return pod.Labels[TemplateGenerationLabel] == strconv.FormatInt(templateGeneration(ds), 10)
}

// surge returns ds's maxSurge, nil unless the strategy is RollingUpdate with
// a maxSurge that is not zero.
func surge(ds *appsv1.DaemonSet) *intstr.IntOrString {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return nil
	}
	if v, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, 100, true); err != nil || v == 0 {
		return nil
	}
	return ru.MaxSurge
}

// updateLimits returns maxSurge and maxUnavailable as numbers of nodes out of
// desired (percentages rounded up). maxUnavailable defaults to 1 and maxSurge
// to 0; when both come out as 0 with nodes to update, maxUnavailable is 1.
func updateLimits(ds *appsv1.DaemonSet, desired int) (maxSurge, maxUnavailable int, err error) {
	unavailable := intstr.FromInt32(1)
	var surgeVal *intstr.IntOrString
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.MaxUnavailable != nil {
			unavailable = *ru.MaxUnavailable
		}
		surgeVal = ru.MaxSurge
	}
	maxUnavailable, err = intstr.GetScaledValueFromIntOrPercent(&unavailable, desired, true)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: maxUnavailable: %v", ErrInvalidUpdateStrategy, err)
	}
	if surgeVal != nil {
		maxSurge, err = intstr.GetScaledValueFromIntOrPercent(surgeVal, desired, true)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: maxSurge: %v", ErrInvalidUpdateStrategy, err)
		}
	}
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, nil
}
