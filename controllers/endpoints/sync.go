package endpoints

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Sync reconciles the service with the given "namespace/name" key: for a
// service with a selector it writes the Endpoints object of the same name
// and the service's EndpointSlices from the pods the selector matches; for a
// service that is gone, has no selector or is of type ExternalName it deletes
// the Endpoints and EndpointSlices this controller manages for it. It returns
// an error wrapping ErrSlicesNotObserved while the informer has not shown the
// slices an earlier sync created or deleted. Sync must not run concurrently
// for the same key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	logger := klog.FromContext(ctx)
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		logger.Error(err, "Dropping malformed key", "key", key)
		return nil
	}
	if !c.expectations.satisfied(key, ns, c.sliceLister) {
		return fmt.Errorf("%w: service %s", ErrSlicesNotObserved, key)
	}
	svc, err := c.serviceLister.Services(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if svc == nil || svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		// No endpoints from this controller: remove what it made.
		return errors.Join(c.deleteEndpoints(ctx, ns, name), c.deleteSlices(ctx, ns, name))
	}

	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	return errors.Join(c.syncEndpoints(ctx, svc, pods), c.syncSlices(ctx, svc, pods))
}
