package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Create validates a new object. It returns nil for types it does not know.
// Binding, Eviction and Scale bodies are validated here too.
func Create(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return Namespace(o)
	case *corev1.Pod:
		return Pod(o)
	case *corev1.Binding:
		return Binding(o)
	case *policyv1.Eviction:
		return Eviction(o)
	case *corev1.Node:
		return Node(o)
	case *corev1.Service:
		return Service(o)
	case *corev1.Endpoints:
		return Endpoints(o)
	case *corev1.ConfigMap:
		return ConfigMap(o)
	case *corev1.Secret:
		return Secret(o)
	case *corev1.ServiceAccount:
		return ServiceAccount(o)
	case *corev1.Event:
		return Event(o)
	case *appsv1.Deployment:
		return Deployment(o)
	case *appsv1.ReplicaSet:
		return ReplicaSet(o)
	case *appsv1.DaemonSet:
		return DaemonSet(o)
	case *appsv1.StatefulSet:
		return StatefulSet(o)
	case *appsv1.ControllerRevision:
		return ControllerRevision(o)
	case *autoscalingv1.Scale:
		return Scale(o)
	case *batchv1.Job:
		return Job(o)
	case *batchv1.CronJob:
		return CronJob(o)
	case *discoveryv1.EndpointSlice:
		return EndpointSlice(o)
	case *rbacv1.Role:
		return Role(o)
	case *rbacv1.ClusterRole:
		return ClusterRole(o)
	case *rbacv1.RoleBinding:
		return RoleBinding(o)
	case *rbacv1.ClusterRoleBinding:
		return ClusterRoleBinding(o)
	case *coordinationv1.Lease:
		return Lease(o)
	}
	return nil
}

// Update validates obj replacing old through the main resource, immutability
// rules included. It returns nil for types it does not know, and an internal
// error when old is not of obj's type.
func Update(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return update(o, old, NamespaceUpdate)
	case *corev1.Pod:
		return update(o, old, PodUpdate)
	case *corev1.Node:
		return update(o, old, NodeUpdate)
	case *corev1.Service:
		return update(o, old, ServiceUpdate)
	case *corev1.Endpoints:
		return update(o, old, EndpointsUpdate)
	case *corev1.ConfigMap:
		return update(o, old, ConfigMapUpdate)
	case *corev1.Secret:
		return update(o, old, SecretUpdate)
	case *corev1.ServiceAccount:
		return update(o, old, ServiceAccountUpdate)
	case *corev1.Event:
		return update(o, old, EventUpdate)
	case *appsv1.Deployment:
		return update(o, old, DeploymentUpdate)
	case *appsv1.ReplicaSet:
		return update(o, old, ReplicaSetUpdate)
	case *appsv1.DaemonSet:
		return update(o, old, DaemonSetUpdate)
	case *appsv1.StatefulSet:
		return update(o, old, StatefulSetUpdate)
	case *appsv1.ControllerRevision:
		return update(o, old, ControllerRevisionUpdate)
	case *autoscalingv1.Scale:
		return update(o, old, func(s, _ *autoscalingv1.Scale) field.ErrorList { return Scale(s) })
	case *batchv1.Job:
		return update(o, old, JobUpdate)
	case *batchv1.CronJob:
		return update(o, old, CronJobUpdate)
	case *discoveryv1.EndpointSlice:
		return update(o, old, EndpointSliceUpdate)
	case *rbacv1.Role:
		return update(o, old, RoleUpdate)
	case *rbacv1.ClusterRole:
		return update(o, old, ClusterRoleUpdate)
	case *rbacv1.RoleBinding:
		return update(o, old, RoleBindingUpdate)
	case *rbacv1.ClusterRoleBinding:
		return update(o, old, ClusterRoleBindingUpdate)
	case *coordinationv1.Lease:
		return update(o, old, LeaseUpdate)
	}
	return nil
}

// UpdateStatus validates a write to the status subresource of obj. It returns
// nil for types it does not know or that have no status subresource.
func UpdateStatus(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return update(o, old, NamespaceStatusUpdate)
	case *corev1.Pod:
		return update(o, old, PodStatusUpdate)
	case *corev1.Node:
		return update(o, old, NodeUpdate)
	case *corev1.Service:
		return update(o, old, ServiceStatusUpdate)
	case *appsv1.Deployment:
		return update(o, old, DeploymentStatusUpdate)
	case *appsv1.ReplicaSet:
		return update(o, old, ReplicaSetStatusUpdate)
	case *appsv1.DaemonSet:
		return update(o, old, DaemonSetStatusUpdate)
	case *appsv1.StatefulSet:
		return update(o, old, StatefulSetStatusUpdate)
	case *batchv1.Job:
		return update(o, old, JobStatusUpdate)
	case *batchv1.CronJob:
		return update(o, old, CronJobStatusUpdate)
	}
	return nil
}

// update checks that old has obj's type and runs fn.
func update[T any](obj *T, old runtime.Object, fn func(obj, old *T) field.ErrorList) field.ErrorList {
	prev, ok := any(old).(*T)
	if !ok || prev == nil || obj == nil {
		return typeMismatch(obj, old)
	}
	return fn(obj, prev)
}
