package validation

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	// The time zone database is embedded so that CronJob time zones validate
	// the same way on every machine.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	legacyJobNameLabel              = "job-name"
	legacyControllerUIDLabel        = "controller-uid"
	maxParallelismForIndexedJob     = 100000
	maxFailedIndexesForIndexedJob   = 100000
	maxPodFailurePolicyRules        = 20
	maxPodFailurePolicyExitCodes    = 255
	maxPodFailurePolicyOnConditions = 20
	maxManagedByLength              = 63
	// cronJobNameMaxLength leaves room for the 11-character suffix the
	// CronJob controller appends to Job names.
	cronJobNameMaxLength = utilvalidation.DNS1035LabelMaxLength - 11
)

var (
	supportedConcurrencyPolicies = []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}
	supportedCompletionModes     = []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}
	supportedReplacementPolicies = []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
	supportedFailureActions      = []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	supportedExitCodeOperators   = []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	supportedConditionStatuses   = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
	validTimeZoneCharacters      = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)
)

// Job validates a new Job: a DNS subdomain name (and, for Indexed jobs, one
// that keeps pod hostnames valid), the generated selector and template labels
// unless spec.manualSelector is true, and the spec: parallelism, completions,
// activeDeadlineSeconds, backoffLimit, backoffLimitPerIndex, maxFailedIndexes
// and ttlSecondsAfterFinished >= 0, completionMode, pod failure and success
// policies, podReplacementPolicy, a valid pod template with restartPolicy
// OnFailure or Never, and a required selector matching the template labels.
// The selector must have been generated (see defaults.Create).
func Job(j *batchv1.Job) field.ErrorList {
	errs := ObjectMeta(&j.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, generatedSelector(j)...)
	errs = append(errs, jobSpecWithSelector(&j.Spec, field.NewPath("spec"))...)
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion && j.Spec.Completions != nil && *j.Spec.Completions > 0 {
		host := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(utilvalidation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return errs
}

// generatedSelector checks that an automatically selected Job carries the
// labels its selector was generated from.
func generatedSelector(j *batchv1.Job) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return nil
	}
	if j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	tp := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{}
	for _, l := range []struct{ key, value string }{
		{legacyControllerUIDLabel, string(j.UID)},
		{legacyJobNameLabel, j.Name},
		{batchv1.ControllerUidLabel, string(j.UID)},
		{batchv1.JobNameLabel, j.Name},
	} {
		errs = append(errs, hasLabel(j.Spec.Template.ObjectMeta, tp, l.key, l.value)...)
		expected[l.key] = l.value
	}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

func hasLabel(m metav1.ObjectMeta, p *field.Path, key, value string) field.ErrorList {
	actual, ok := m.Labels[key]
	if !ok {
		return field.ErrorList{field.Required(p.Child("labels").Key(key), fmt.Sprintf("must be '%s'", value))}
	}
	if actual != value {
		return field.ErrorList{field.Invalid(p.Child("labels").Key(key), m.Labels, fmt.Sprintf("must be '%s'", value))}
	}
	return nil
}

func jobSpecWithSelector(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	errs := jobSpec(spec, fldPath)
	if spec.Selector == nil {
		errs = append(errs, field.Required(fldPath.Child("selector"), ""))
	} else {
		errs = append(errs, labelSelector(spec.Selector, fldPath.Child("selector"))...)
	}
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func jobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{
		{"parallelism", spec.Parallelism},
		{"completions", spec.Completions},
		{"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished},
		{"backoffLimitPerIndex", spec.BackoffLimitPerIndex},
		{"maxFailedIndexes", spec.MaxFailedIndexes},
	} {
		if f.v != nil {
			errs = append(errs, nonNegative(int64(*f.v), fldPath.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	if spec.MaxFailedIndexes != nil && spec.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if mb := spec.ManagedBy; mb != nil {
		errs = append(errs, utilvalidation.IsDomainPrefixedPath(fldPath.Child("managedBy"), *mb)...)
		if len(*mb) > maxManagedByLength {
			errs = append(errs, field.TooLongMaxLength(fldPath.Child("managedBy"), *mb, maxManagedByLength))
		}
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if cm := spec.CompletionMode; cm != nil {
		if *cm != batchv1.NonIndexedCompletion && *cm != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(fldPath.Child("completionMode"), cm, supportedCompletionModes))
		}
		if indexed {
			if spec.Completions == nil {
				errs = append(errs, field.Required(fldPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
			}
			if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
				errs = append(errs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
			}
			if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
				errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
			}
			if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
				errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
			}
		}
	}
	if !indexed {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		errs = append(errs, podFailurePolicy(spec, fldPath.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		if !indexed {
			errs = append(errs, field.Invalid(fldPath.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = append(errs, successPolicy(spec, fldPath.Child("successPolicy"))...)
		}
	}
	if rp := spec.PodReplacementPolicy; rp != nil {
		p := fldPath.Child("podReplacementPolicy")
		if spec.PodFailurePolicy != nil {
			if *rp != batchv1.Failed {
				errs = append(errs, field.NotSupported(p, *rp, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else if *rp != batchv1.Failed && *rp != batchv1.TerminatingOrFailed {
			errs = append(errs, field.NotSupported(p, *rp, supportedReplacementPolicies))
		}
	}
	tp := fldPath.Child("template")
	errs = append(errs, PodTemplateSpec(&spec.Template, tp)...)
	rp := spec.Template.Spec.RestartPolicy
	switch {
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(tp.Child("spec", "restartPolicy"), rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func podFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := fldPath.Child("rules")
	if n := len(spec.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, n, maxPodFailurePolicyRules))
	}
	containerNames := map[string]bool{}
	for _, c := range append(append([]corev1.Container(nil), spec.Template.Spec.Containers...), spec.Template.Spec.InitContainers...) {
		containerNames[c.Name] = true
	}
	for i := range spec.PodFailurePolicy.Rules {
		r := &spec.PodFailurePolicy.Rules[i]
		rp := rulesPath.Index(i)
		ap := rp.Child("action")
		switch {
		case r.Action == "":
			errs = append(errs, field.Required(ap, fmt.Sprintf("valid values: %q", supportedFailureActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(ap, r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case r.Action != batchv1.PodFailurePolicyActionCount && r.Action != batchv1.PodFailurePolicyActionFailJob && r.Action != batchv1.PodFailurePolicyActionIgnore:
			errs = append(errs, field.NotSupported(ap, r.Action, supportedFailureActions))
		}
		if r.OnExitCodes != nil {
			errs = append(errs, onExitCodes(r.OnExitCodes, rp.Child("onExitCodes"), containerNames)...)
		}
		if len(r.OnPodConditions) > 0 {
			cp := rp.Child("onPodConditions")
			if n := len(r.OnPodConditions); n > maxPodFailurePolicyOnConditions {
				errs = append(errs, field.TooMany(cp, n, maxPodFailurePolicyOnConditions))
			}
			for j, c := range r.OnPodConditions {
				pp := cp.Index(j)
				errs = append(errs, qualifiedName(string(c.Type), pp.Child("type"))...)
				switch c.Status {
				case "":
					errs = append(errs, field.Required(pp.Child("status"), fmt.Sprintf("valid values: %q", supportedConditionStatuses)))
				case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
				default:
					errs = append(errs, field.NotSupported(pp.Child("status"), c.Status, supportedConditionStatuses))
				}
			}
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(rp, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func onExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, fldPath *field.Path, containerNames map[string]bool) field.ErrorList {
	var errs field.ErrorList
	op := fldPath.Child("operator")
	switch r.Operator {
	case "":
		errs = append(errs, field.Required(op, fmt.Sprintf("valid values: %q", supportedExitCodeOperators)))
	case batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn:
	default:
		errs = append(errs, field.NotSupported(op, r.Operator, supportedExitCodeOperators))
	}
	if r.ContainerName != nil && !containerNames[*r.ContainerName] {
		errs = append(errs, field.Invalid(fldPath.Child("containerName"), *r.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	vp := fldPath.Child("values")
	if len(r.Values) == 0 {
		errs = append(errs, field.Invalid(vp, r.Values, "at least one value is required"))
	} else if len(r.Values) > maxPodFailurePolicyExitCodes {
		errs = append(errs, field.TooMany(vp, len(r.Values), maxPodFailurePolicyExitCodes))
	}
	ordered := true
	seen := map[int32]bool{}
	for i, v := range r.Values {
		if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(vp.Index(i), v, "must not be 0 for the In operator"))
		}
		if seen[v] {
			errs = append(errs, field.Duplicate(vp.Index(i), v))
		}
		seen[v] = true
		if i > 0 && r.Values[i-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(vp, r.Values, "must be ordered"))
	}
	return errs
}

func successPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := fldPath.Child("rules")
	if len(spec.SuccessPolicy.Rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if n := len(spec.SuccessPolicy.Rules); n > 20 {
		errs = append(errs, field.TooMany(rulesPath, n, 20))
	}
	completions := int32(0)
	if spec.Completions != nil {
		completions = *spec.Completions
	}
	for i, r := range spec.SuccessPolicy.Rules {
		rp := rulesPath.Index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if r.SucceededIndexes != nil {
			var err error
			if total, err = indexesFormat(*r.SucceededIndexes, completions); err != nil {
				errs = append(errs, field.Invalid(rp.Child("succeededIndexes"), *r.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
			}
		}
		if r.SucceededCount != nil {
			cp := rp.Child("succeededCount")
			errs = append(errs, nonNegative(int64(*r.SucceededCount), cp)...)
			if *r.SucceededCount > completions {
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if r.SucceededIndexes != nil && *r.SucceededCount > total {
				errs = append(errs, field.Invalid(cp, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return errs
}

// indexesFormat parses an index list like "1,3-5" and returns how many
// indexes it names.
func indexesFormat(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var last *int32
	var total int32
	for _, interval := range strings.Split(s, ",") {
		x, y, err := indexInterval(interval, completions)
		if err != nil {
			return 0, err
		}
		if last != nil && *last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", *last, x)
		}
		total += y - x + 1
		last = &y
	}
	return total, nil
}

func indexInterval(s string, completions int32) (int32, int32, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	x, err := strconv.Atoi(parts[0])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", parts[0])
	}
	if x >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", parts[0])
	}
	if len(parts) == 1 {
		return int32(x), int32(x), nil
	}
	y, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", parts[1])
	}
	if y >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", parts[1])
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return int32(x), int32(y), nil
}

// JobUpdate validates an update of a Job: the spec rules of Job, and
// immutable selector, completionMode, podFailurePolicy,
// backoffLimitPerIndex, managedBy and successPolicy; completions may change
// only for Indexed jobs, together with parallelism; the pod template is
// immutable except, while the Job is suspended and has never started, its
// node affinity, node selector, tolerations, labels, annotations and
// scheduling gates.
func JobUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := ObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	spec, oldSpec := &j.Spec, &old.Spec
	p := field.NewPath("spec")
	errs = append(errs, jobSpecWithSelector(spec, p)...)
	errs = append(errs, completionsUpdate(spec, oldSpec, p.Child("completions"))...)
	errs = append(errs, immutable(spec.Selector, oldSpec.Selector, p.Child("selector"))...)
	errs = append(errs, jobTemplateUpdate(j, old, p.Child("template"))...)
	errs = append(errs, immutable(spec.CompletionMode, oldSpec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, immutable(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(spec.ManagedBy, oldSpec.ManagedBy, p.Child("managedBy"))...)
	return append(errs, immutable(spec.SuccessPolicy, oldSpec.SuccessPolicy, p.Child("successPolicy"))...)
}

func completionsUpdate(spec, old *batchv1.JobSpec, p *field.Path) field.ErrorList {
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if !indexed {
		return immutable(spec.Completions, old.Completions, p)
	}
	if apiequality.Semantic.DeepEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(p, spec.Completions, fmt.Sprintf("can only be modified in tandem with %s", p.Root().Child("parallelism").String()))}
	}
	return nil
}

func jobTemplateUpdate(j, old *batchv1.Job, p *field.Path) field.ErrorList {
	t := &j.Spec.Template
	oldT := &old.Spec.Template
	suspended := old.Spec.Suspend != nil && *old.Spec.Suspend
	if suspended && old.Status.StartTime == nil {
		oldT = old.Spec.Template.DeepCopy()
		switch {
		case t.Spec.Affinity == nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = nil
			if *oldT.Spec.Affinity == (corev1.Affinity{}) {
				oldT.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity == nil:
			oldT.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		oldT.Spec.NodeSelector = t.Spec.NodeSelector
		oldT.Spec.Tolerations = t.Spec.Tolerations
		oldT.Annotations = t.Annotations
		oldT.Labels = t.Labels
		oldT.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	return immutable(t, oldT, p)
}

// JobStatusUpdate validates a status write: non-negative counters, unique
// non-empty uncounted pod UIDs, terminal Complete and Failed conditions that
// stay true, and changed completedIndexes that parse and belong to an Indexed
// Job.
func JobStatusUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := ObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	sp := field.NewPath("status")
	st := &j.Status
	errs = append(errs, nonNegative(int64(st.Active), sp.Child("active"))...)
	errs = append(errs, nonNegative(int64(st.Succeeded), sp.Child("succeeded"))...)
	errs = append(errs, nonNegative(int64(st.Failed), sp.Child("failed"))...)
	if st.Ready != nil {
		errs = append(errs, nonNegative(int64(*st.Ready), sp.Child("ready"))...)
	}
	if st.Terminating != nil {
		errs = append(errs, nonNegative(int64(*st.Terminating), sp.Child("terminating"))...)
	}
	if u := st.UncountedTerminatedPods; u != nil {
		up := sp.Child("uncountedTerminatedPods")
		seen := map[string]bool{}
		for _, l := range []struct {
			name string
			uids []string
		}{{"succeeded", uidStrings(u.Succeeded)}, {"failed", uidStrings(u.Failed)}} {
			for i, uid := range l.uids {
				p := up.Child(l.name).Index(i)
				switch {
				case uid == "":
					errs = append(errs, field.Invalid(p, uid, "must not be empty"))
				case seen[uid]:
					errs = append(errs, field.Duplicate(p, uid))
				default:
					seen[uid] = true
				}
			}
		}
	}
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if jobConditionTrue(old.Status.Conditions, t) && !jobConditionTrue(st.Conditions, t) {
			errs = append(errs, field.Invalid(sp.Child("conditions"), field.OmitValueType{}, fmt.Sprintf("cannot disable the terminal %s=True condition", string(t))))
		}
	}
	if st.CompletedIndexes != old.Status.CompletedIndexes {
		indexed := j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
		if st.CompletedIndexes != "" && !indexed {
			errs = append(errs, field.Invalid(sp.Child("completedIndexes"), st.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
		} else if j.Spec.Completions != nil {
			if _, err := indexesFormat(st.CompletedIndexes, *j.Spec.Completions); err != nil {
				errs = append(errs, field.Invalid(sp.Child("completedIndexes"), st.CompletedIndexes, fmt.Sprintf("error parsing completedIndexes: %s", err.Error())))
			}
		}
	}
	return errs
}

func uidStrings[T ~string](uids []T) []string {
	out := make([]string, len(uids))
	for i, u := range uids {
		out[i] = string(u)
	}
	return out
}

func jobConditionTrue(cs []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range cs {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// CronJob validates a new CronJob: a DNS subdomain name of at most 52
// characters, the spec rules of cronJobSpec.
func CronJob(cj *batchv1.CronJob) field.ErrorList {
	errs := ObjectMeta(&cj.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, cronJobSpec(&cj.Spec, nil, field.NewPath("spec"))...)
	if len(cj.Name) > cronJobNameMaxLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", cronJobNameMaxLength)))
	}
	return errs
}

// CronJobUpdate validates an update of a CronJob; the name length limit is
// not enforced, so older objects stay updatable.
func CronJobUpdate(cj, old *batchv1.CronJob) field.ErrorList {
	errs := ObjectMetaUpdate(&cj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(errs, cronJobSpec(&cj.Spec, &old.Spec, field.NewPath("spec"))...)
}

// CronJobStatusUpdate validates a status write, which only touches metadata
// rules.
func CronJobStatusUpdate(cj, old *batchv1.CronJob) field.ErrorList {
	return ObjectMetaUpdate(&cj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
}

// cronJobSpec validates the schedule (a standard five-field cron expression or
// an @hourly-style descriptor, without TZ= unless the stored object already
// had it), startingDeadlineSeconds and history limits >= 0, timeZone (an IANA
// name known to this binary), concurrencyPolicy, and the job template (whose
// selector is always generated).
func cronJobSpec(spec, old *batchv1.CronJobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	sp := fldPath.Child("schedule")
	if spec.Schedule == "" {
		errs = append(errs, field.Required(sp, ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		if _, err := cron.ParseStandard(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, spec.Schedule, err.Error()))
		}
		switch {
		case allowTZ && strings.Contains(spec.Schedule, "TZ") && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && strings.Contains(spec.Schedule, "TZ"):
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*spec.StartingDeadlineSeconds, fldPath.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !equalStringPtr(old.TimeZone, spec.TimeZone) {
		errs = append(errs, timeZone(spec.TimeZone, fldPath.Child("timeZone"))...)
	}
	errs = append(errs, requiredOneOf(spec.ConcurrencyPolicy, supportedConcurrencyPolicies, fldPath.Child("concurrencyPolicy"))...)
	errs = append(errs, jobTemplateSpec(&spec.JobTemplate, fldPath.Child("jobTemplate"))...)
	if spec.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.SuccessfulJobsHistoryLimit), fldPath.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*spec.FailedJobsHistoryLimit), fldPath.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

func equalStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func timeZone(tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(p, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return field.ErrorList{field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

func jobTemplateSpec(t *batchv1.JobTemplateSpec, fldPath *field.Path) field.ErrorList {
	sp := fldPath.Child("spec")
	errs := jobSpec(&t.Spec, sp)
	if t.Spec.Selector != nil {
		errs = append(errs, field.Invalid(sp.Child("selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
		errs = append(errs, field.NotSupported(sp.Child("manualSelector"), t.Spec.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}
