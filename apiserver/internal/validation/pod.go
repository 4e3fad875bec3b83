package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Annotations with a meaning for pods.
const (
	mirrorPodAnnotation        = "kubernetes.io/config.mirror"
	podDeletionCostAnnotation  = "controller.kubernetes.io/pod-deletion-cost"
	tolerationsAnnotation      = "scheduler.alpha.kubernetes.io/tolerations"
	seccompPodAnnotation       = "seccomp.security.alpha.kubernetes.io/pod"
	seccompContainerAnnotation = "container.seccomp.security.alpha.kubernetes.io/"
	appArmorAnnotationPrefix   = "container.apparmor.security.beta.kubernetes.io/"
)

// updatablePodSpecFields lists, in Kubernetes' words, what a pod update may
// change.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// Pod validates a new Pod: metadata (DNS subdomain name, namespace required),
// pod annotations, the pod spec with the Pod-only rules (host ports equal to
// container ports under hostNetwork, no surrounding whitespace in images), no
// ephemeral containers, and no nodeName while scheduling gates remain.
func Pod(p *corev1.Pod) field.ErrorList {
	errs := podMetadataAndSpec(p, podOptions{resourceIsPod: true})
	specPath := field.NewPath("spec")
	if len(p.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if p.Spec.NodeName != "" && len(p.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

func podMetadataAndSpec(p *corev1.Pod, opts podOptions) field.ErrorList {
	metaPath, specPath := field.NewPath("metadata"), field.NewPath("spec")
	errs := ObjectMeta(&p.ObjectMeta, true, NameIsDNSSubdomain, metaPath)
	errs = append(errs, podAnnotations(p.Annotations, &p.Spec, metaPath.Child("annotations"), opts)...)
	errs = append(errs, podSpec(&p.Spec, &p.ObjectMeta, specPath, opts)...)
	if p.Spec.ServiceAccountName == "" {
		for vi, v := range p.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"), "must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for i := range p.Spec.Containers {
		errs = append(errs, containerOnlyForPod(&p.Spec.Containers[i], specPath.Child("containers").Index(i))...)
	}
	for i := range p.Spec.InitContainers {
		errs = append(errs, containerOnlyForPod(&p.Spec.InitContainers[i], specPath.Child("initContainers").Index(i))...)
	}
	return errs
}

// podAnnotations validates the annotations Kubernetes interprets on pods.
func podAnnotations(ann map[string]string, spec *corev1.PodSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var errs field.ErrorList
	if v, ok := ann[mirrorPodAnnotation]; ok && spec.NodeName == "" {
		errs = append(errs, field.Invalid(fldPath.Key(mirrorPodAnnotation), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if ann[tolerationsAnnotation] != "" {
		var ts []corev1.Toleration
		if err := json.Unmarshal([]byte(ann[tolerationsAnnotation]), &ts); err != nil {
			errs = append(errs, field.Invalid(fldPath, tolerationsAnnotation, err.Error()))
		} else {
			errs = append(errs, Tolerations(ts, fldPath.Child(tolerationsAnnotation))...)
		}
	}
	if v, ok := ann[podDeletionCostAnnotation]; ok && !opts.allowInvalidPodDeletionCost && !validDeletionCost(v) {
		errs = append(errs, field.Invalid(fldPath.Key(podDeletionCostAnnotation), v, "must be a 32bit integer"))
	}
	for _, k := range sortedKeys(ann) {
		v := ann[k]
		switch {
		case k == seccompPodAnnotation, strings.HasPrefix(k, seccompContainerAnnotation):
			errs = append(errs, seccompAnnotation(v, fldPath.Child(k))...)
		case strings.HasPrefix(k, appArmorAnnotationPrefix):
			name := strings.TrimPrefix(k, appArmorAnnotationPrefix)
			if !podHasContainer(spec, name) {
				errs = append(errs, field.Invalid(fldPath.Key(k), name, "container not found"))
			}
			if v != "" && v != "runtime/default" && v != "unconfined" && !strings.HasPrefix(v, "localhost/") {
				errs = append(errs, field.Invalid(fldPath.Key(k), v, fmt.Sprintf("invalid AppArmor profile name: %q", v)))
			}
		}
	}
	return errs
}

// validDeletionCost reports whether v is a decimal int32 without a plus sign
// or leading zeros.
func validDeletionCost(v string) bool {
	if v == "" || !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return false
	}
	_, err := strconv.ParseInt(v, 10, 32)
	return err == nil
}

func seccompAnnotation(v string, p *field.Path) field.ErrorList {
	switch {
	case v == "runtime/default", v == "docker/default", v == "unconfined":
		return nil
	case strings.HasPrefix(v, "localhost/"):
		return localDescendingPath(strings.TrimPrefix(v, "localhost/"), p)
	default:
		return field.ErrorList{field.Invalid(p, v, "must be a valid seccomp profile")}
	}
}

func podHasContainer(spec *corev1.PodSpec, name string) bool {
	found := false
	allContainers(spec, field.NewPath("spec"), func(c *corev1.Container, _ *field.Path) {
		found = found || c.Name == name
	})
	return found
}

// PodTemplateSpec validates an embedded pod template: labels, annotations,
// the pod spec, and no ephemeral containers.
func PodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	errs := metavalidation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	errs = append(errs, podAnnotations(t.Annotations, &t.Spec, fldPath.Child("annotations"), podOptions{})...)
	errs = append(errs, PodSpec(&t.Spec, fldPath.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// PodUpdate validates an update of a Pod by a client. Besides metadata, only
// container and init container images, a shorter activeDeadlineSeconds, added
// tolerations (and changed tolerationSeconds), removed scheduling gates, and
// for gated pods added node selectors and node affinity terms may change;
// anything else yields Kubernetes' "pod updates may not change fields other
// than ..." error with a diff.
func PodUpdate(p, old *corev1.Pod) field.ErrorList {
	metaPath, specPath := field.NewPath("metadata"), field.NewPath("spec")
	opts := podOptions{resourceIsPod: true}
	if v, ok := old.Annotations[podDeletionCostAnnotation]; ok && !validDeletionCost(v) {
		opts.allowInvalidPodDeletionCost = true
	}
	errs := ObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, podMetadataAndSpec(p, opts)...)
	errs = append(errs, podAnnotationUpdates(p, old, metaPath.Child("annotations"))...)

	cErrs, stop := containerUpdates(p.Spec.Containers, old.Spec.Containers, specPath.Child("containers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}
	cErrs, stop = containerUpdates(p.Spec.InitContainers, old.Spec.InitContainers, specPath.Child("initContainers"))
	errs = append(errs, cErrs...)
	if stop {
		return errs
	}

	adsPath := specPath.Child("activeDeadlineSeconds")
	if ads := p.Spec.ActiveDeadlineSeconds; ads != nil {
		if *ads < 0 || *ads > math.MaxInt32 {
			return append(errs, field.Invalid(adsPath, *ads, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if prev := old.Spec.ActiveDeadlineSeconds; prev != nil && *prev < *ads {
			return append(errs, field.Invalid(adsPath, *ads, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(adsPath, p.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	errs = append(errs, onlyAddedTolerations(p.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, onlyDeletedSchedulingGates(p.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(p.Spec, old.Spec) {
		return errs
	}
	munged := *p.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = nil
	if old.Spec.ActiveDeadlineSeconds != nil {
		v := *old.Spec.ActiveDeadlineSeconds
		munged.ActiveDeadlineSeconds = &v
	}
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if prev := old.Spec.TerminationGracePeriodSeconds; prev != nil && *prev < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = prev
	}
	if len(old.Spec.SchedulingGates) > 0 {
		errs = append(errs, gatedPodSchedulingUpdates(&munged, &old.Spec, specPath)...)
	}
	if !apiequality.Semantic.DeepEqual(munged, old.Spec) {
		diff := cmp.Diff(old.Spec, munged)
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v", strings.Join(updatablePodSpecFields, ","), diff)))
	}
	return errs
}

// gatedPodSchedulingUpdates allows additions to the node selector and node
// affinity of a pod that still has scheduling gates, and folds them back into
// munged so the equality check ignores them.
func gatedPodSchedulingUpdates(munged, old *corev1.PodSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(munged.NodeSelector, old.NodeSelector) {
		for k, v := range old.NodeSelector {
			if nv, ok := munged.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, field.Invalid(specPath.Child("nodeSelector"), munged.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		munged.NodeSelector = old.NodeSelector
	}
	var oldNA, newNA *corev1.NodeAffinity
	if old.Affinity != nil {
		oldNA = old.Affinity.NodeAffinity
	}
	if munged.Affinity != nil {
		newNA = munged.Affinity.NodeAffinity
	}
	if apiequality.Semantic.DeepEqual(oldNA, newNA) {
		return errs
	}
	errs = append(errs, nodeAffinityMutation(specPath.Child("affinity", "nodeAffinity"), newNA, oldNA)...)
	switch {
	case munged.Affinity == nil && oldNA == nil:
	case munged.Affinity == nil:
		munged.Affinity = &corev1.Affinity{NodeAffinity: oldNA}
	case old.Affinity == nil && munged.Affinity.PodAffinity == nil && munged.Affinity.PodAntiAffinity == nil:
		munged.Affinity = nil
	default:
		munged.Affinity.NodeAffinity = oldNA
	}
	return errs
}

func nodeAffinityMutation(p *field.Path, newNA, oldNA *corev1.NodeAffinity) field.ErrorList {
	if oldNA == nil || oldNA.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	oldTerms := oldNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	var newTerms []corev1.NodeSelectorTerm
	if newNA != nil && newNA.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		newTerms = newNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	tp := p.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	if len(oldTerms) > 0 && len(oldTerms) != len(newTerms) {
		return field.ErrorList{field.Invalid(tp, newTerms, "no additions/deletions to non-empty NodeSelectorTerms list are allowed")}
	}
	var errs field.ErrorList
	for i := range oldTerms {
		if !termHasOnlyAdditions(newTerms[i], oldTerms[i]) {
			errs = append(errs, field.Invalid(tp.Index(i), newTerms[i], "only additions are allowed (no mutations or deletions)"))
		}
	}
	return errs
}

func termHasOnlyAdditions(newTerm, oldTerm corev1.NodeSelectorTerm) bool {
	if len(oldTerm.MatchExpressions) == 0 && len(oldTerm.MatchFields) == 0 && (len(newTerm.MatchExpressions) > 0 || len(newTerm.MatchFields) > 0) {
		return false
	}
	if l := len(oldTerm.MatchExpressions); l > 0 && (len(newTerm.MatchExpressions) < l || !apiequality.Semantic.DeepEqual(newTerm.MatchExpressions[:l], oldTerm.MatchExpressions)) {
		return false
	}
	if l := len(oldTerm.MatchFields); l > 0 && (len(newTerm.MatchFields) < l || !apiequality.Semantic.DeepEqual(newTerm.MatchFields[:l], oldTerm.MatchFields)) {
		return false
	}
	return true
}

// containerUpdates rejects added or removed containers and checks images.
func containerUpdates(cs, old []corev1.Container, fldPath *field.Path) (field.ErrorList, bool) {
	if len(cs) != len(old) {
		return field.ErrorList{field.Forbidden(fldPath, "pod updates may not add or remove containers")}, true
	}
	var errs field.ErrorList
	for i, c := range cs {
		if c.Image == "" {
			errs = append(errs, field.Required(fldPath.Index(i).Child("image"), ""))
		}
		if len(strings.TrimSpace(c.Image)) != len(c.Image) {
			errs = append(errs, field.Invalid(fldPath.Index(i).Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	return errs, false
}

// onlyAddedTolerations requires every old toleration to still be present,
// except for a changed tolerationSeconds.
func onlyAddedTolerations(ts, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range ts {
			c := o
			c.TolerationSeconds = t.TolerationSeconds
			if apiequality.Semantic.DeepEqual(c, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return Tolerations(ts, fldPath)
}

func onlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	oldNames := map[string]bool{}
	for _, g := range old {
		oldNames[g.Name] = true
	}
	var errs field.ErrorList
	for i, g := range gates {
		if !oldNames[g.Name] {
			errs = append(errs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// podAnnotationUpdates forbids changing the mirror-pod and AppArmor
// annotations, then validates the new annotations.
func podAnnotationUpdates(p, old *corev1.Pod, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(old.Annotations) {
		if v, ok := p.Annotations[k]; ok && v == old.Annotations[k] {
			continue
		}
		if strings.HasPrefix(k, appArmorAnnotationPrefix) {
			errs = append(errs, field.Forbidden(fldPath.Key(k), "may not remove or update AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			errs = append(errs, field.Forbidden(fldPath.Key(k), "may not remove or update mirror pod annotation"))
		}
	}
	for _, k := range sortedKeys(p.Annotations) {
		if _, ok := old.Annotations[k]; ok {
			continue
		}
		if strings.HasPrefix(k, appArmorAnnotationPrefix) {
			errs = append(errs, field.Forbidden(fldPath.Key(k), "may not add AppArmor annotations"))
		}
		if k == mirrorPodAnnotation {
			errs = append(errs, field.Forbidden(fldPath.Key(k), "may not add mirror pod annotation"))
		}
	}
	return errs
}

// PodStatusUpdate validates a write to the status subresource of a Pod:
// metadata, condition types, no nodeName change, a valid nominatedNodeName,
// an immutable qosClass, no terminated container coming back to life when
// the restart policy forbids it, and pod and host IPs (valid, at most one per
// family, hostIPs[0] equal to hostIP).
func PodStatusUpdate(p, old *corev1.Pod) field.ErrorList {
	metaPath := field.NewPath("metadata")
	errs := ObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, podAnnotationUpdates(p, old, metaPath.Child("annotations"))...)
	errs = append(errs, podAnnotations(p.Annotations, &p.Spec, metaPath.Child("annotations"), podOptions{allowInvalidPodDeletionCost: true})...)
	// Kubernetes reports condition types under metadata.conditions.
	for i, c := range p.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
		default:
			errs = append(errs, qualifiedName(string(c.Type), metaPath.Child("conditions").Index(i).Child("Type"))...)
		}
	}
	sp := field.NewPath("status")
	if p.Spec.NodeName != old.Spec.NodeName {
		errs = append(errs, field.Forbidden(sp.Child("nodeName"), "may not be changed directly"))
	}
	if n := p.Status.NominatedNodeName; n != old.Status.NominatedNodeName && n != "" {
		errs = append(errs, nameErrors(NameIsDNSSubdomain, n, false, sp.Child("nominatedNodeName"))...)
	}
	errs = append(errs, immutable(p.Status.QOSClass, old.Status.QOSClass, sp.Child("qosClass"))...)
	errs = append(errs, containerStateTransitions(p.Status.ContainerStatuses, old.Status.ContainerStatuses, sp.Child("containerStatuses"), old.Spec.RestartPolicy, nil)...)
	errs = append(errs, containerStateTransitions(p.Status.InitContainerStatuses, old.Status.InitContainerStatuses, sp.Child("initContainerStatuses"), old.Spec.RestartPolicy, old.Spec.InitContainers)...)
	errs = append(errs, containerStateTransitions(p.Status.EphemeralContainerStatuses, old.Status.EphemeralContainerStatuses, sp.Child("ephemeralContainerStatuses"), corev1.RestartPolicyNever, nil)...)
	podIPs := make([]string, 0, len(p.Status.PodIPs))
	for _, ip := range p.Status.PodIPs {
		podIPs = append(podIPs, ip.IP)
	}
	errs = append(errs, statusIPs(podIPs, p.Status.PodIPs, sp.Child("podIPs"))...)
	if len(p.Status.HostIPs) > 0 {
		if p.Status.HostIP != p.Status.HostIPs[0].IP {
			errs = append(errs, field.Invalid(sp.Child("hostIPs").Index(0).Child("ip"), p.Status.HostIPs[0].IP, "must be equal to `hostIP`"))
		}
		hostIPs := make([]string, 0, len(p.Status.HostIPs))
		for _, ip := range p.Status.HostIPs {
			hostIPs = append(hostIPs, ip.IP)
		}
		errs = append(errs, statusIPs(hostIPs, p.Status.HostIPs, sp.Child("hostIPs"))...)
	}
	return errs
}

// statusIPs validates a list of IPs reported in a status: each valid, no
// duplicates, at most one per family.
func statusIPs(ips []string, value interface{}, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ip := range ips {
		errs = append(errs, utilvalidation.IsValidIP(fldPath.Index(i), ip)...)
	}
	if len(errs) > 0 || len(ips) < 2 {
		return errs
	}
	if dual, err := netutils.IsDualStackIPStrings(ips); err != nil || !dual || len(ips) > 2 {
		errs = append(errs, field.Invalid(fldPath, value, "may specify no more than one IP for each IP family"))
	}
	seen := map[string]bool{}
	for i, ip := range ips {
		if seen[ip] {
			errs = append(errs, field.Duplicate(fldPath.Index(i), ip))
		}
		seen[ip] = true
	}
	return errs
}

// containerStateTransitions forbids a terminated container from leaving the
// terminated state unless the restart policy (or, for sidecars, the
// container's own policy) allows a restart.
func containerStateTransitions(statuses, old []corev1.ContainerStatus, fldPath *field.Path, rp corev1.RestartPolicy, inits []corev1.Container) field.ErrorList {
	if rp == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range old {
		if o.State.Terminated == nil {
			continue
		}
		if o.State.Terminated.ExitCode != 0 && rp == corev1.RestartPolicyOnFailure {
			continue
		}
		restartable := false
		for _, c := range inits {
			if c.Name == o.Name {
				restartable = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
				break
			}
		}
		if restartable {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				errs = append(errs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

// Binding validates the body of a pods/binding request: the target must be a
// Node (or have no kind) and have a name.
func Binding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// Eviction validates the body of a pods/eviction request: the pod name and
// the embedded delete options (propagation policy, dry run). Matching the
// name with the URL is the caller's job (Kubernetes answers 400 there).
func Eviction(e *policyv1.Eviction) field.ErrorList {
	var errs field.ErrorList
	if e.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if e.DeleteOptions != nil {
		errs = append(errs, metavalidation.ValidateDeleteOptions(e.DeleteOptions)...)
	}
	return errs
}
