package patch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v4/fieldpath"
)

// replicasPath is where every scalable built-in kind (Deployment, ReplicaSet, StatefulSet,
// ReplicationController) keeps its replica count.
var replicasPath = fieldpath.MakePathOrDie("spec", "replicas")

// ScaleManagedFields returns the managedFields of the autoscaling/v1 Scale view of a scalable
// object whose managedFields are parent and whose version is parentGV (apps/v1 for a
// Deployment). Only the entries owning spec.replicas remain, rewritten to autoscaling/v1 and
// the Scale's spec.replicas. The scale endpoint sets them on the Scale it builds before it
// calls Patch or Update with the autoscaling/v1 Scale kind and Subresource "scale".
func ScaleManagedFields(parent []metav1.ManagedFieldsEntry, parentGV schema.GroupVersion) ([]metav1.ManagedFieldsEntry, error) {
	return scaleHandler(parent, parentGV).ToSubresource()
}

// ParentManagedFields folds the managedFields of an updated Scale (scale) back into those of
// its parent object (parent, of version parentGV) and returns the parent's new managedFields:
// a manager that set the replicas through the scale subresource now owns the parent's
// spec.replicas (entry with subresource "scale" and the parent's apiVersion), and the other
// managers lose it, exactly as the reference apiserver's scale storage does.
func ParentManagedFields(parent, scale []metav1.ManagedFieldsEntry, parentGV schema.GroupVersion) ([]metav1.ManagedFieldsEntry, error) {
	return scaleHandler(parent, parentGV).ToParent(scale)
}

// scaleHandler returns the library's converter between parent and Scale managedFields.
func scaleHandler(parent []metav1.ManagedFieldsEntry, parentGV schema.GroupVersion) *managedfields.ScaleHandler {
	return managedfields.NewScaleHandler(parent, parentGV, managedfields.ResourcePathMappings{
		parentGV.String(): replicasPath,
	})
}
