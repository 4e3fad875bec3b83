// Package validation checks the objects Capstan serves the way Kubernetes v1.32
// does, so that a bad object is refused with 422 Invalid and the same per-field
// causes (field paths, error types and, where practical, messages) a user of a
// real cluster would see.
//
// Create, Update and UpdateStatus dispatch on the object's type; the exported
// per-type functions (Pod, PodUpdate, Deployment, ...) can be used directly.
// Every function returns a field.ErrorList, nil or empty when the object is
// valid; the caller turns a non-empty list into a StatusReasonInvalid error
// (for example with apierrors.NewInvalid).
//
// What the caller must do first, as the Kubernetes registry does:
//
//   - apply defaults (package defaults): validation expects them, for example
//     a Pod without terminationGracePeriodSeconds or a container without
//     imagePullPolicy is invalid;
//   - generate names from generateName: ObjectMeta requires metadata.name;
//   - set metadata.namespace from the request for namespaced resources and
//     clear it for cluster-scoped ones: namespaced resources require a
//     namespace and cluster-scoped ones forbid it ("not allowed on this
//     type");
//   - on update, fill metadata.resourceVersion of an unconditional update
//     from the stored object: ObjectMetaUpdate requires it;
//   - for Jobs, generate the selector (defaults.Create) before Create;
//   - check scope, authorization, name/URL agreement (Binding, Eviction,
//     Scale) and anything needing cluster state (quota, allocation of
//     cluster IPs and node ports, PriorityClass lookup) elsewhere.
//
// Rules that depend on feature gates follow the v1.32 defaults. Rules that
// need cluster state or admission plugins are not here.
package validation
