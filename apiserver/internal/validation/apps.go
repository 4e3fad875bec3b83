package validation

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedDeploymentStrategies = []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}
	supportedDaemonSetStrategies  = []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}
	supportedRetentionPolicies    = []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
)

// replicas returns the value of an optional replica count.
func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

// controllerSelector validates the required, non-empty selector of a workload
// controller and returns it as a labels.Selector (nil when unusable).
func controllerSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	errs := requiredSelector(sel, kind, fldPath)
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, append(errs, field.Invalid(fldPath, sel, "invalid label selector"))
	}
	return s, errs
}

// requiredSelector validates the required, non-empty selector of a workload
// controller of kind.
func requiredSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	errs := labelSelector(sel, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
	}
	return errs
}

// replicaSetTemplate validates the pod template of a ReplicaSet or
// Deployment: it matches the selector, is a valid template, restarts Always
// and has no activeDeadlineSeconds.
func replicaSetTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, kind string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, PodTemplateSpec(t, fldPath)...)
	return append(errs, longRunningPodSpec(&t.Spec, kind, fldPath.Child("spec"))...)
}

// longRunningPodSpec checks the template pod spec of a controller of kind
// whose pods run until replaced: it restarts Always and has no
// activeDeadlineSeconds.
func longRunningPodSpec(spec *corev1.PodSpec, kind string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("restartPolicy"), spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// Deployment validates a Deployment: a DNS subdomain name, replicas >= 0, a
// required non-empty selector matching the template labels, a valid template
// that restarts Always, the strategy (Recreate without rollingUpdate; for
// RollingUpdate, int or percentage values that are not both 0 and a
// maxUnavailable of at most 100%), minReadySeconds and revisionHistoryLimit
// >= 0, and progressDeadlineSeconds greater than minReadySeconds.
func Deployment(d *appsv1.Deployment) field.ErrorList {
	errs := ObjectMeta(&d.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, deploymentSpec(&d.Spec, field.NewPath("spec"))...)
}

func deploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	errs := nonNegative(int64(replicas(spec.Replicas)), fldPath.Child("replicas"))
	sel, selErrs := controllerSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	errs = append(errs, selErrs...)
	if sel != nil {
		errs = append(errs, replicaSetTemplate(&spec.Template, sel, "ReplicaSet", fldPath.Child("template"))...)
	}
	errs = append(errs, deploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if pds := spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, nonNegative(int64(*pds), fldPath.Child("progressDeadlineSeconds"))...)
		if *pds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func deploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is '"+string(appsv1.RecreateDeploymentStrategyType)+"'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := fldPath.Child("rollingUpdate")
		mu, ms := intOrZero(s.RollingUpdate.MaxUnavailable), intOrZero(s.RollingUpdate.MaxSurge)
		errs := positiveIntOrPercent(mu, p.Child("maxUnavailable"))
		errs = append(errs, positiveIntOrPercent(ms, p.Child("maxSurge"))...)
		if intOrPercentValue(mu) == 0 && intOrPercentValue(ms) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), mu, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(mu, p.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, supportedDeploymentStrategies)}
	}
	return nil
}

func intOrZero(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// positiveIntOrPercent accepts a non-negative integer or a percentage string.
func positiveIntOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, v, msg))
		}
		return errs
	case intstr.Int:
		return nonNegative(int64(v.IntValue()), p)
	default:
		return field.ErrorList{field.Invalid(p, v, "must be an integer or percentage (e.g '5%%')")}
	}
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func notMoreThan100Percent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// DeploymentUpdate validates an update of a Deployment: the rules of
// Deployment plus an immutable selector.
func DeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return selectorFixedUpdate(&d.ObjectMeta, &old.ObjectMeta, deploymentSpec(&d.Spec, field.NewPath("spec")), d.Spec.Selector, old.Spec.Selector)
}

// DeploymentStatusUpdate validates a status write: non-negative counters, no
// more updated, ready or available replicas than replicas, no more available
// than ready, and a collisionCount that does not decrease.
func DeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	sp := field.NewPath("status")
	st := &d.Status
	errs = append(errs, nonNegativeFields(sp,
		statusField{"observedGeneration", st.ObservedGeneration},
		statusField{"replicas", int64(st.Replicas)},
		statusField{"updatedReplicas", int64(st.UpdatedReplicas)},
		statusField{"readyReplicas", int64(st.ReadyReplicas)},
		statusField{"availableReplicas", int64(st.AvailableReplicas)},
		statusField{"unavailableReplicas", int64(st.UnavailableReplicas)},
	)...)
	if st.CollisionCount != nil {
		errs = append(errs, nonNegative(int64(*st.CollisionCount), sp.Child("collisionCount"))...)
	}
	errs = append(errs, notAboveReplicas(sp, st.Replicas,
		replicaCount{"updatedReplicas", st.UpdatedReplicas},
		replicaCount{"readyReplicas", st.ReadyReplicas},
		replicaCount{"availableReplicas", st.AvailableReplicas},
	)...)
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(sp.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return append(errs, collisionCount(st.CollisionCount, old.Status.CollisionCount, sp.Child("collisionCount"))...)
}

// statusField is a named integer field of a status.
type statusField struct {
	name string
	v    int64
}

// nonNegativeFields reports each of fields, under the status path sp, that
// is negative.
func nonNegativeFields(sp *field.Path, fields ...statusField) field.ErrorList {
	var errs field.ErrorList
	for _, f := range fields {
		errs = append(errs, nonNegative(f.v, sp.Child(f.name))...)
	}
	return errs
}

// replicaCount is a named count of some of a workload's replicas.
type replicaCount struct {
	name string
	v    int32
}

// notAboveReplicas reports each of counts, under the status path sp, that is
// greater than total, the status's replica count.
func notAboveReplicas(sp *field.Path, total int32, counts ...replicaCount) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		if c.v > total {
			errs = append(errs, field.Invalid(sp.Child(c.name), c.v, "cannot be greater than status.replicas"))
		}
	}
	return errs
}

func collisionCount(cur, old *int32, p *field.Path) field.ErrorList {
	if !isDecremented(cur, old) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, replicas(cur), "cannot be decremented")}
}

// ReplicaSet validates a ReplicaSet: a DNS subdomain name, replicas and
// minReadySeconds >= 0, a required non-empty selector matching the template
// labels, and a valid template that restarts Always.
func ReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := ObjectMeta(&rs.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, replicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
}

func replicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	errs := nonNegative(int64(replicas(spec.Replicas)), fldPath.Child("replicas"))
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// Kubernetes says "deployment" here too.
	sel, selErrs := controllerSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	errs = append(errs, selErrs...)
	if sel != nil {
		errs = append(errs, replicaSetTemplate(&spec.Template, sel, "ReplicaSet", fldPath.Child("template"))...)
	}
	return errs
}

// ReplicaSetUpdate validates an update of a ReplicaSet: the rules of
// ReplicaSet plus an immutable selector.
func ReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return selectorFixedUpdate(&rs.ObjectMeta, &old.ObjectMeta, replicaSetSpec(&rs.Spec, field.NewPath("spec")), rs.Spec.Selector, old.Spec.Selector)
}

// ReplicaSetStatusUpdate validates a status write: non-negative counters, no
// more labelled, ready or available replicas than replicas, and no more
// available than ready.
func ReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := ObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	sp := field.NewPath("status")
	st := &rs.Status
	errs = append(errs, nonNegativeFields(sp,
		statusField{"replicas", int64(st.Replicas)},
		statusField{"fullyLabeledReplicas", int64(st.FullyLabeledReplicas)},
		statusField{"readyReplicas", int64(st.ReadyReplicas)},
		statusField{"availableReplicas", int64(st.AvailableReplicas)},
		statusField{"observedGeneration", st.ObservedGeneration},
	)...)
	errs = append(errs, notAboveReplicas(sp, st.Replicas,
		replicaCount{"fullyLabeledReplicas", st.FullyLabeledReplicas},
		replicaCount{"readyReplicas", st.ReadyReplicas},
		replicaCount{"availableReplicas", st.AvailableReplicas},
	)...)
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(sp.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}

// DaemonSet validates a DaemonSet: a DNS subdomain name, a non-empty selector
// matching the template labels, a valid template that restarts Always,
// minReadySeconds and revisionHistoryLimit >= 0, and the update strategy
// (for RollingUpdate, exactly one of maxSurge and maxUnavailable non-zero,
// each at most 100%).
func DaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := ObjectMeta(&ds.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, daemonSetSpec(&ds.Spec, field.NewPath("spec"))...)
}

func daemonSetSpec(spec *appsv1.DaemonSetSpec, fldPath *field.Path) field.ErrorList {
	sp := fldPath.Child("selector")
	errs := labelSelector(spec.Selector, sp)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, spec.Selector, "empty selector is invalid for daemonset"))
	}
	tp := fldPath.Child("template")
	errs = append(errs, PodTemplateSpec(&spec.Template, tp)...)
	errs = append(errs, longRunningPodSpec(&spec.Template.Spec, "DaemonSet", tp.Child("spec"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, daemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func daemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		p := fldPath.Child("rollingUpdate")
		mu, ms := intOrZero(s.RollingUpdate.MaxUnavailable), intOrZero(s.RollingUpdate.MaxSurge)
		errs := positiveIntOrPercent(mu, p.Child("maxUnavailable"))
		errs = append(errs, positiveIntOrPercent(ms, p.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(mu, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ms, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, supportedDaemonSetStrategies)}
	}
}

// DaemonSetUpdate validates an update of a DaemonSet: the rules of DaemonSet
// plus an immutable selector.
func DaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	return selectorFixedUpdate(&ds.ObjectMeta, &old.ObjectMeta, daemonSetSpec(&ds.Spec, field.NewPath("spec")), ds.Spec.Selector, old.Spec.Selector)
}

// selectorFixedUpdate validates the update of a workload whose selector is
// immutable: the metadata update, then specErrs (the errors of the new spec),
// then the selector.
func selectorFixedUpdate(meta, oldMeta *metav1.ObjectMeta, specErrs field.ErrorList, sel, oldSel *metav1.LabelSelector) field.ErrorList {
	errs := ObjectMetaUpdate(meta, oldMeta, field.NewPath("metadata"))
	errs = append(errs, specErrs...)
	return append(errs, immutable(sel, oldSel, field.NewPath("spec", "selector"))...)
}

// DaemonSetStatusUpdate validates a status write: non-negative counters and a
// collisionCount that does not decrease.
func DaemonSetStatusUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	errs := ObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	sp := field.NewPath("status")
	st := &ds.Status
	errs = append(errs, nonNegativeFields(sp,
		statusField{"currentNumberScheduled", int64(st.CurrentNumberScheduled)},
		statusField{"numberMisscheduled", int64(st.NumberMisscheduled)},
		statusField{"desiredNumberScheduled", int64(st.DesiredNumberScheduled)},
		statusField{"numberReady", int64(st.NumberReady)},
		statusField{"observedGeneration", st.ObservedGeneration},
		statusField{"updatedNumberScheduled", int64(st.UpdatedNumberScheduled)},
		statusField{"numberAvailable", int64(st.NumberAvailable)},
		statusField{"numberUnavailable", int64(st.NumberUnavailable)},
	)...)
	if st.CollisionCount != nil {
		errs = append(errs, nonNegative(int64(*st.CollisionCount), sp.Child("collisionCount"))...)
	}
	return append(errs, collisionCount(st.CollisionCount, old.Status.CollisionCount, sp.Child("collisionCount"))...)
}

// StatefulSet validates a StatefulSet: a DNS-1123 label name (its pods'
// hostnames derive from it), podManagementPolicy and updateStrategy values,
// a non-negative partition and a maxUnavailable that is not 0, the PVC
// retention policy, replicas, minReadySeconds and ordinals.start >= 0, a
// required non-empty selector matching the template labels, template labels
// and annotations, restartPolicy Always and no activeDeadlineSeconds. Like
// Kubernetes, it does not validate the template's pod spec further.
func StatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := ObjectMeta(&ss.ObjectMeta, true, NameIsDNSLabel, field.NewPath("metadata"))
	return append(errs, statefulSetSpec(&ss.Spec, field.NewPath("spec"))...)
}

func statefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy, fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	up := fldPath.Child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(up, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), spec.UpdateStrategy.RollingUpdate, fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
			rp := up.Child("rollingUpdate")
			errs = append(errs, nonNegative(int64(replicas(ru.Partition)), rp.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				mp := rp.Child("maxUnavailable")
				errs = append(errs, positiveIntOrPercent(*ru.MaxUnavailable, mp)...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(*ru.MaxUnavailable, mp)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(up, spec.UpdateStrategy, fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if rp := spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, retentionPolicyType(rp.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, retentionPolicyType(rp.WhenScaled, pp.Child("whenScaled"))...)
	}
	errs = append(errs, nonNegative(int64(replicas(spec.Replicas)), fldPath.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	sp := fldPath.Child("selector")
	errs = append(errs, requiredSelector(spec.Selector, "statefulset", sp)...)
	tp := fldPath.Child("template")
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(sp, spec.Selector, ""))
	} else {
		if !sel.Empty() && !sel.Matches(labels.Set(spec.Template.Labels)) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
		}
		errs = append(errs, metavalidation.ValidateLabels(spec.Template.Labels, tp.Child("labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(spec.Template.Annotations, tp.Child("annotations"))...)
		errs = append(errs, podAnnotations(spec.Template.Annotations, &spec.Template.Spec, tp.Child("annotations"), podOptions{})...)
	}
	return append(errs, longRunningPodSpec(&spec.Template.Spec, "StatefulSet", tp.Child("spec"))...)
}

func retentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, p *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	default:
		return field.ErrorList{field.NotSupported(p, t, supportedRetentionPolicies)}
	}
}

// StatefulSetUpdate validates an update of a StatefulSet: the spec rules of
// StatefulSet, and no change to fields other than replicas, ordinals,
// template, updateStrategy, persistentVolumeClaimRetentionPolicy and
// minReadySeconds (so the selector, serviceName and volumeClaimTemplates are
// immutable).
func StatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := ObjectMetaUpdate(&ss.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, statefulSetSpec(&ss.Spec, field.NewPath("spec"))...)
	clone := ss.Spec.DeepCopy()
	clone.Replicas = old.Spec.Replicas
	clone.Template = old.Spec.Template
	clone.UpdateStrategy = old.Spec.UpdateStrategy
	clone.MinReadySeconds = old.Spec.MinReadySeconds
	clone.Ordinals = old.Spec.Ordinals
	clone.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !apiequality.Semantic.DeepEqual(*clone, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

// StatefulSetStatusUpdate validates a status write: non-negative counters, no
// more ready, current, updated or available replicas than replicas, and a
// collisionCount that does not decrease.
func StatefulSetStatusUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	sp := field.NewPath("status")
	st := &ss.Status
	errs := nonNegativeFields(sp,
		statusField{"replicas", int64(st.Replicas)},
		statusField{"readyReplicas", int64(st.ReadyReplicas)},
		statusField{"currentReplicas", int64(st.CurrentReplicas)},
		statusField{"updatedReplicas", int64(st.UpdatedReplicas)},
		statusField{"availableReplicas", int64(st.AvailableReplicas)},
		statusField{"observedGeneration", st.ObservedGeneration},
	)
	if st.CollisionCount != nil {
		errs = append(errs, nonNegative(int64(*st.CollisionCount), sp.Child("collisionCount"))...)
	}
	errs = append(errs, notAboveReplicas(sp, st.Replicas,
		replicaCount{"readyReplicas", st.ReadyReplicas},
		replicaCount{"currentReplicas", st.CurrentReplicas},
		replicaCount{"updatedReplicas", st.UpdatedReplicas},
		replicaCount{"availableReplicas", st.AvailableReplicas},
	)...)
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(sp.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	errs = append(errs, ObjectMetaUpdate(&ss.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
	return append(errs, collisionCount(st.CollisionCount, old.Status.CollisionCount, sp.Child("collisionCount"))...)
}

// ControllerRevision validates a ControllerRevision: a DNS subdomain name,
// data present and revision >= 0.
func ControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	errs := ObjectMeta(&cr.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, nonNegative(cr.Revision, field.NewPath("revision"))...)
}

// ControllerRevisionUpdate validates an update of a ControllerRevision, whose
// data is immutable.
func ControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	errs := ObjectMetaUpdate(&cr.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, ControllerRevision(cr)...)
	return append(errs, immutable(cr.Data, old.Data, field.NewPath("data"))...)
}
