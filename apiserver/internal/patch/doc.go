// Package patch applies the four PATCH types of the Kubernetes API to the built-in k8s.io/api
// objects and maintains their metadata.managedFields, behaving as kube-apiserver v1.32 does
// (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go, create.go, update.go):
//
//   - application/json-patch+json: RFC 6902 operations, test included (kubectl rollout undo,
//     kubectl's client-side to server-side apply migration of managedFields);
//   - application/merge-patch+json: RFC 7386 (kubectl label, annotate, scale);
//   - application/strategic-merge-patch+json: merge by the patch strategies and merge keys of
//     the Go types, with the $patch, $setElementOrder, $retainKeys and
//     $deleteFromPrimitiveList directives (kubectl apply, edit, rollout restart, set image);
//   - application/apply-patch+yaml: server-side apply with field ownership, conflicts and
//     force (kubectl apply --server-side), creating the object when it does not exist.
//
// A Manager does the work; one is shared by the whole apiserver. The caller (the registry's
// PATCH, POST and PUT handlers) reads the live object, calls Patch or Update, then runs its
// strategy, validation and resourceVersion precondition and stores the result:
//
//	res, err := m.Patch(live, gvk, patchType, body, patch.Options{
//		FieldManager: fieldManager, Force: force, FieldValidation: fieldValidation,
//		Resource: gr, Name: name, Namespace: namespace,
//	})
//	// POST and PUT record the writer in managedFields:
//	obj, err = m.Update(live /* nil on create */, obj, gvk, patch.Options{FieldManager: fieldManager})
//
// Errors a client can cause are *k8s.io/apimachinery/pkg/api/errors.StatusError values with the
// reference apiserver's codes and messages; the caller returns them as they are.
//
// Field ownership follows the reference: the field manager of an endpoint is keyed by kind and
// subresource, ignores the fields the endpoint's strategy resets (status on the main resource,
// spec on /status), and converts managedFields between a scalable object and its Scale
// (ScaleManagedFields, ParentManagedFields). Objects are typed with client-go's embedded
// OpenAPI-derived schema, extended with the autoscaling/v1 Scale.
//
// Behaviour that deliberately differs from kube-apiserver v1.32 (each a 500 there, a 4xx here):
//   - an apply configuration with unknown fields, duplicate list keys or wrongly typed values
//     is refused with 400 (kube-apiserver: 500 "failed to create typed patch object", the same
//     text); see kubernetes/kubernetes#122480 and #139253;
//   - a strategic merge patch whose directives name unknown fields or hold values of the
//     wrong type gets 400, and one that would panic the strategic merge patch library (an
//     object as a merge key, $retainKeys or $deleteFromPrimitiveList element, null in a merged
//     list) gets 400 instead of the reference's recovered panic;
//   - a panic that still occurs is recovered and returned as 500.
//
// Other differences: kind changes through a strategic merge patch are ignored, as in the
// reference, but an apiVersion change through a JSON or merge patch is refused with 422 even
// for a version the reference could convert (there is no internal version here); Options.Force
// cannot express an explicit ?force=false on a non-apply patch, which the reference refuses.
package patch
