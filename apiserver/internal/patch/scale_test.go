package patch

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScaleManagedFields(t *testing.T) {
	t.Parallel()
	applied := appliedDeployment(t)

	// The Scale view keeps only the owners of spec.replicas, in autoscaling/v1.
	scaleFields, err := ScaleManagedFields(applied.ManagedFields, appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatalf("ScaleManagedFields() = %v", err)
	}
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{ManagedFields: scaleFields}}
	if e := strings.Join(entries(scale), " "); e != "kubectl/Apply@autoscaling/v1" {
		t.Errorf("ScaleManagedFields() entries = %s; want kubectl/Apply@autoscaling/v1", e)
	}
	if got := fieldsOf(scale, "kubectl", metav1.ManagedFieldsOperationApply); got != `{"f:spec":{"f:replicas":{}}}` {
		t.Errorf("ScaleManagedFields() fields = %s; want spec.replicas only", got)
	}

	// kubectl scale through the subresource moves spec.replicas to kubectl-scale.
	scaled := scaleViaSubresource(t, applied, "5")
	if *scaled.Spec.Replicas != 5 {
		t.Errorf("replicas = %d; want 5", *scaled.Spec.Replicas)
	}
	if e := strings.Join(entries(scaled), " "); e != "kubectl-scale/Update/scale@apps/v1 kubectl/Apply@apps/v1" {
		t.Errorf("ParentManagedFields() entries = %s; want kubectl-scale (scale) and kubectl", e)
	}
	if !owns(t, scaled, "kubectl-scale", metav1.ManagedFieldsOperationUpdate, "f:spec", "f:replicas") ||
		owns(t, scaled, "kubectl", metav1.ManagedFieldsOperationApply, "f:spec", "f:replicas") {
		t.Errorf("spec.replicas owners: kubectl-scale %s, kubectl %s; want kubectl-scale only",
			fieldsOf(scaled, "kubectl-scale", metav1.ManagedFieldsOperationUpdate), fieldsOf(scaled, "kubectl", metav1.ManagedFieldsOperationApply))
	}
	if !owns(t, scaled, "kubectl", metav1.ManagedFieldsOperationApply, "f:spec", "f:selector") {
		t.Errorf("kubectl lost spec.selector: %s", fieldsOf(scaled, "kubectl", metav1.ManagedFieldsOperationApply))
	}

	// Scaling again to the same count changes nothing.
	again := scaleViaSubresource(t, scaled, "5")
	if d := diff(again.ManagedFields, scaled.ManagedFields); d != "" {
		t.Errorf("managedFields after a no-op scale (-want +got):\n%s", d)
	}
}
