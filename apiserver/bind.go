package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/registry"
)

// PodBinding asks for one pod to be bound to a node. Pod is the pod as the caller read it: its
// resourceVersion is the precondition of the binding.
type PodBinding struct {
	Pod  *corev1.Pod
	Node string
}

// BindPods binds many pods in one store transaction, as the pods/binding subresource binds one:
// a pod that changed since it was read, is already bound or is being deleted is refused with
// 409 Conflict, the others are bound. When fence is set it guards the whole transaction, so a
// deposed leader's scheduler binds nothing. The result holds one error per binding (nil when
// bound); an unknown outcome is a 504 Timeout for every binding of the batch.
func (s *Server) BindPods(ctx context.Context, bindings []PodBinding, fence FenceFunc) []error {
	errs := make([]error, len(bindings))
	opts := registry.WriteOptions{}
	if fence != nil {
		c, ok := fence()
		if !ok {
			return fill(errs, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "", errFenceLost))
		}
		opts.Fence = append(opts.Fence, c)
	}
	var items []registry.BatchWrite
	var index []int // items[i] binds bindings[index[i]]
	for i, b := range bindings {
		pod := b.Pod.DeepCopy()
		err := bindPod(pod, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID}, Target: corev1.ObjectReference{Kind: "Node", Name: b.Node}})
		if err != nil {
			errs[i] = err
			continue
		}
		items = append(items, registry.BatchWrite{Object: pod, ResourceVersion: pod.ResourceVersion})
		index = append(index, i)
	}
	if len(items) == 0 {
		return errs
	}
	itemErrs, err := s.reg.MustStore(schema.GroupResource{Resource: "pods"}).WriteBatch(ctx, items, opts)
	if err != nil {
		err = &apierrors.StatusError{ErrStatus: *statusFor(fmt.Errorf("bind %d pods: %w", len(items), err))}
		for _, i := range index {
			errs[i] = err
		}
		return errs
	}
	for j, e := range itemErrs {
		errs[index[j]] = e
	}
	return errs
}

// fill sets every element of errs to err and returns errs.
func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}
