package eventttl

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Options tune the sweeper.
type Options struct {
	// TTL is how long an Event lives after it was last seen.
	TTL time.Duration
	// Interval is the time between sweeps.
	Interval time.Duration
	// Clock tells the time; nil is the real clock.
	Clock clock.PassiveClock
}

// DefaultOptions returns the API server's usual event TTL, one hour, swept every minute.
func DefaultOptions() Options { return Options{TTL: time.Hour, Interval: time.Minute} }

// Validate reports options the sweeper cannot work with.
func (o Options) Validate() error {
	var errs []error
	if o.TTL <= 0 {
		errs = append(errs, fmt.Errorf("event TTL %s must be positive", o.TTL))
	}
	if o.Interval <= 0 {
		errs = append(errs, fmt.Errorf("event sweep interval %s must be positive", o.Interval))
	}
	return errors.Join(errs...)
}

// Controller deletes expired Events. Create it with NewController before the informer starts,
// then call Run once.
type Controller struct {
	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	opts     Options
}

// NewController returns a sweeper that reads core/v1 Events from informer and deletes them
// through client.
func NewController(client kubernetes.Interface, informer cache.SharedIndexInformer, opts Options) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Controller{client: client, informer: informer, opts: opts}, nil
}

// Run sweeps every Interval until ctx ends, once the informer has synced.
func (c *Controller) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("controller", "eventttl")
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		n, err := c.Sweep(ctx)
		if err != nil {
			logger.Error(err, "Deleting expired events", "deleted", n)
		} else if n > 0 {
			logger.V(2).Info("Deleted expired events", "deleted", n)
		}
	}, c.opts.Interval)
}

// Sweep deletes the cached Events that expired and returns how many it deleted. Each delete
// carries the Event's UID and resourceVersion, so an Event recorded again meanwhile (its count
// bumped) survives.
func (c *Controller) Sweep(ctx context.Context) (int, error) {
	now := c.opts.Clock.Now()
	deleted := 0
	var errs []error
	for _, obj := range c.informer.GetStore().List() {
		ev, ok := obj.(*corev1.Event)
		if !ok || now.Sub(lastSeen(ev)) < c.opts.TTL {
			continue
		}
		uid, rv := ev.UID, ev.ResourceVersion
		err := c.client.CoreV1().Events(ev.Namespace).Delete(ctx, ev.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
		})
		switch {
		case err == nil:
			deleted++
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			// gone already, or recorded again
		case ctx.Err() != nil:
			return deleted, ctx.Err()
		default:
			errs = append(errs, fmt.Errorf("delete event %s/%s: %w", ev.Namespace, ev.Name, err))
		}
	}
	return deleted, errors.Join(errs...)
}

// lastSeen is the latest time the Event was recorded.
func lastSeen(ev *corev1.Event) time.Time {
	t := ev.CreationTimestamp.Time
	for _, c := range []time.Time{ev.LastTimestamp.Time, ev.FirstTimestamp.Time, ev.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if ev.Series != nil && ev.Series.LastObservedTime.After(t) {
		t = ev.Series.LastObservedTime.Time
	}
	return t
}
