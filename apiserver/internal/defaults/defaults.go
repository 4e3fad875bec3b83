package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Apply sets Kubernetes' defaults on obj in place. It is a no-op for types it
// does not know and for nil pointers. Apply is idempotent: applying it to an
// already defaulted object changes nothing, so it may run on every write,
// including status updates.
func Apply(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		if o != nil {
			Pod(o)
		}
	case *corev1.PodTemplate:
		if o != nil {
			PodTemplateSpec(&o.Template)
		}
	case *corev1.Namespace:
		if o != nil {
			Namespace(o)
		}
	case *corev1.Node:
		if o != nil {
			Node(o)
		}
	case *corev1.Service:
		if o != nil {
			Service(o)
		}
	case *corev1.Endpoints:
		if o != nil {
			Endpoints(o)
		}
	case *corev1.Secret:
		if o != nil {
			Secret(o)
		}
	case *corev1.ReplicationController:
		if o != nil {
			ReplicationController(o)
		}
	case *appsv1.Deployment:
		if o != nil {
			Deployment(o)
		}
	case *appsv1.ReplicaSet:
		if o != nil {
			ReplicaSet(o)
		}
	case *appsv1.DaemonSet:
		if o != nil {
			DaemonSet(o)
		}
	case *appsv1.StatefulSet:
		if o != nil {
			StatefulSet(o)
		}
	case *batchv1.Job:
		if o != nil {
			Job(o)
		}
	case *batchv1.CronJob:
		if o != nil {
			CronJob(o)
		}
	case *discoveryv1.EndpointSlice:
		if o != nil {
			EndpointSlice(o)
		}
	case *rbacv1.RoleBinding:
		if o != nil {
			RoleBinding(o)
		}
	case *rbacv1.ClusterRoleBinding:
		if o != nil {
			ClusterRoleBinding(o)
		}
	}
}

// Create applies the defaults of Apply and then the ones Kubernetes sets only
// when an object is created: the "kubernetes" finalizer of a Namespace
// (the namespace strategy's PrepareForCreate) and, for a Job without
// spec.manualSelector, the generated selector and pod template labels (the job
// strategy's PrepareForCreate; skipped while metadata.uid is empty, so call
// Create after assigning the UID). Names must already be generated.
func Create(obj runtime.Object) {
	Apply(obj)
	switch o := obj.(type) {
	case *corev1.Namespace:
		if o != nil {
			namespaceCreate(o)
		}
	case *batchv1.Job:
		if o != nil && o.UID != "" && (o.Spec.ManualSelector == nil || !*o.Spec.ManualSelector) {
			JobSelector(o)
			// Kubernetes copies the template labels to an unlabelled Job every
			// time it decodes the Job, so readers see the generated labels.
			Job(o)
		}
	}
}

// Update applies the defaults of Apply to obj and then carries over from old the
// values Kubernetes preserves when a client omits them on update: a Service's
// allocated cluster IPs, node ports and health check node port (the service
// REST storage's patchAllocatedValues and the strategy's clusterIPs
// normalisation), and a Pod's priority and preemption policy (Priority
// admission). It is a no-op when old is nil or of another type than obj.
func Update(obj, old runtime.Object) {
	// The Pod carry-over must run first: Apply would otherwise default an
	// omitted priority to 0 and hide the stored value.
	if o, ok := obj.(*corev1.Pod); ok && o != nil {
		if prev, ok := old.(*corev1.Pod); ok && prev != nil {
			podUpdate(o, prev)
		}
	}
	Apply(obj)
	if o, ok := obj.(*corev1.Service); ok && o != nil {
		if prev, ok := old.(*corev1.Service); ok && prev != nil {
			serviceUpdate(o, prev)
		}
	}
}
