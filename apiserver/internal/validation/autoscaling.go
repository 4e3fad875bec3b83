package validation

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Scale validates the body of a scale subresource write: its metadata (a DNS
// subdomain name in a namespace) and spec.replicas >= 0. The resource being
// scaled is validated again once the new replica count is applied to it.
func Scale(s *autoscalingv1.Scale) field.ErrorList {
	errs := ObjectMeta(&s.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	if s.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), s.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return errs
}
