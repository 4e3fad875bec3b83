package daemonset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/capstan-io/capstan/controllers/internal/history"
	"github.com/capstan-io/capstan/controllers/internal/ownership"
)

// defaultRevisionHistoryLimit is the number of old revisions kept when
// spec.revisionHistoryLimit is unset.
const defaultRevisionHistoryLimit = 10

// constructHistory claims ds's ControllerRevisions and returns the one
// recording the current template (created, or reused with its number raised)
// and the others.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, error) {
	all, err := c.historyLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, fmt.Errorf("listing revisions: %w", err)
	}
	claimer := ownership.NewClaimer(ds, controllerKind, selector, c.recheck(ds), c.history.Patch)
	revisions, err := ownership.ClaimAll(ctx, claimer, all)
	if err != nil {
		return nil, nil, fmt.Errorf("claiming revisions of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	data, err := history.TemplatePatch(&ds.Spec.Template)
	if err != nil {
		return nil, nil, err
	}
	hash := history.HashTemplate(&ds.Spec.Template, ds.Status.CollisionCount)
	want := history.NewRevision(ds, controllerKind, ds.Spec.Template.Labels, hash, data)
	cur, old, err := c.history.Current(ctx, want, revisions)
	if err != nil {
		return nil, nil, fmt.Errorf("recording revision of DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return cur, old, nil
}

// cleanupHistory deletes the oldest of ds's old revisions beyond
// spec.revisionHistoryLimit, sparing those whose hash a pod still carries.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision, nodeToPods map[string][]*corev1.Pod) error {
	limit := defaultRevisionHistoryLimit
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	if len(old) <= limit {
		return nil
	}
	liveHashes := map[string]bool{}
	for _, pods := range nodeToPods {
		for _, p := range pods {
			if h := p.Labels[appsv1.ControllerRevisionHashLabelKey]; h != "" {
				liveHashes[h] = true
			}
		}
	}
	return c.history.Truncate(ctx, old, limit, func(r *appsv1.ControllerRevision) bool {
		return liveHashes[r.Labels[appsv1.ControllerRevisionHashLabelKey]]
	})
}
