package patch

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
)

// resetKey identifies an endpoint: a kind and a subresource ("" for the main resource).
type resetKey struct {
	gk          schema.GroupKind
	subresource string
}

// resetFields lists, per endpoint, the fields that the reference apiserver's registry strategy
// resets on every write (GetResetFields of the kind's strategy in kubernetes/pkg/registry):
// the main resource ignores status, the status subresource ignores spec and a few metadata
// fields. The field manager must know them so that a manager applying such a field neither
// owns it nor conflicts on it. Kinds without a status (ConfigMap, Role, Lease, ...) reset nothing.
var resetFields = func() map[resetKey][]fieldpath.Path {
	status := fieldpath.MakePathOrDie("status")
	spec := fieldpath.MakePathOrDie("spec")
	m := map[resetKey][]fieldpath.Path{}
	withStatus := []schema.GroupKind{
		{Kind: "Pod"}, {Kind: "Node"}, {Kind: "Namespace"}, {Kind: "Service"},
		{Kind: "PersistentVolume"}, {Kind: "PersistentVolumeClaim"},
		{Kind: "ReplicationController"}, {Kind: "ResourceQuota"},
		{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "ReplicaSet"},
		{Group: "apps", Kind: "StatefulSet"}, {Group: "apps", Kind: "DaemonSet"},
		{Group: "batch", Kind: "Job"}, {Group: "batch", Kind: "CronJob"},
		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
		{Group: "policy", Kind: "PodDisruptionBudget"},
	}
	for _, gk := range withStatus {
		m[resetKey{gk, ""}] = []fieldpath.Path{status}
		m[resetKey{gk, "status"}] = []fieldpath.Path{spec}
	}
	m[resetKey{schema.GroupKind{Kind: "Pod"}, "status"}] = []fieldpath.Path{
		spec,
		fieldpath.MakePathOrDie("metadata", "deletionTimestamp"),
		fieldpath.MakePathOrDie("metadata", "ownerReferences"),
	}
	m[resetKey{schema.GroupKind{Group: "apps", Kind: "Deployment"}, "status"}] = []fieldpath.Path{
		spec,
		fieldpath.MakePathOrDie("metadata", "labels"),
	}
	return m
}()

// resetFieldsFilter returns the field filter the field manager of gvk's subresource endpoint
// uses, or nil when the endpoint resets nothing.
func resetFieldsFilter(gvk schema.GroupVersionKind, subresource string) map[fieldpath.APIVersion]fieldpath.Filter {
	paths, ok := resetFields[resetKey{gvk.GroupKind(), subresource}]
	if !ok {
		return nil
	}
	return fieldpath.NewExcludeFilterSetMap(map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewSet(paths...),
	})
}
