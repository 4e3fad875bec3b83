package validation

import (
	"strings"
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		want   []want
	}{
		{name: "valid", mutate: func(j *batchv1.Job) {}},
		{name: "manual selector", mutate: func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"job": "pi"}}
			j.Spec.Template.Labels = map[string]string{"job": "pi"}
		}},
		{name: "restart policy Always", mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			want: []want{notSupported("spec.template.spec.restartPolicy")}},
		{name: "negative backoff limit", mutate: func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(-1)) }, want: []want{invalid("spec.backoffLimit")}},
		{name: "negative parallelism", mutate: func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(-1)) }, want: []want{invalid("spec.parallelism")}},
		{name: "negative completions", mutate: func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(-1)) }, want: []want{invalid("spec.completions")}},
		{name: "negative active deadline", mutate: func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr(int64(-5)) }, want: []want{invalid("spec.activeDeadlineSeconds")}},
		{name: "indexed without completions", mutate: func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, want: []want{required("spec.completions")}},
		{name: "backoff per index needs indexed mode", mutate: func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr(int32(1)) },
			want: []want{invalidMsg("spec.backoffLimitPerIndex", "requires indexed completion mode")}},
		{name: "unknown completion mode", mutate: func(j *batchv1.Job) { j.Spec.CompletionMode = ptr(batchv1.CompletionMode("Sharded")) },
			want: []want{notSupported("spec.completionMode")}},
		{name: "pod failure policy with OnFailure", mutate: func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
			}}}
			j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
		}, want: []want{invalidMsg("spec.template.spec.restartPolicy", `only "Never" is supported when podFailurePolicy is specified`)}},
		{name: "pod failure policy exit codes unordered", mutate: func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionIgnore,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{3, 1}},
			}}}
			j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
		}, want: []want{invalidMsg("spec.podFailurePolicy.rules[0].onExitCodes.values", "must be ordered")}},
		{name: "replacement policy with failure policy", mutate: func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:          batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			}}}
		}, want: []want{notSupported("spec.podReplacementPolicy")}},
		{name: "selector missing", mutate: func(j *batchv1.Job) { j.Spec.Selector = nil },
			want: []want{required("spec.selector"), invalid("spec.template.metadata.labels")}},
		{name: "generated label missing", mutate: func(j *batchv1.Job) { delete(j.Spec.Template.Labels, batchv1.JobNameLabel) },
			want: []want{required("spec.template.metadata.labels[batch.kubernetes.io/job-name]")}},
		{name: "selector not generated", mutate: func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = "0f0f0f0f-0000-0000-0000-000000000000"
		}, want: []want{invalidMsg("spec.selector", "`selector` not auto-generated"), invalid("spec.template.metadata.labels")}},
		{name: "uid missing", mutate: func(j *batchv1.Job) { j.UID = "" }, want: []want{
			required("metadata.uid"),
			invalid("spec.template.metadata.labels[controller-uid]"),
			invalid("spec.template.metadata.labels[batch.kubernetes.io/controller-uid]"),
			invalid("spec.selector"),
		}},
		{name: "indexed name too long for hostnames", mutate: func(j *batchv1.Job) {
			j.Name = strings.Repeat("a", 62)
			j.Spec.Template.Labels[batchv1.JobNameLabel] = j.Name
			j.Spec.Template.Labels["job-name"] = j.Name
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr(int32(10))
		}, want: []want{invalidMsg("metadata.name", "will not able to create pod with invalid DNS label")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validJob()
			tt.mutate(j)
			checkErrors(t, "Job()", Job(j), tt.want...)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	tests := []struct {
		name   string
		old    func(j *batchv1.Job)
		mutate func(j *batchv1.Job)
		want   []want
	}{
		{name: "suspend", mutate: func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) }},
		{name: "parallelism change", mutate: func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(3)) }},
		{name: "selector changed", mutate: func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels["extra"] = "x"
			j.Spec.Template.Labels["extra"] = "x"
		},
			want: []want{invalidMsg("spec.selector", "field is immutable"), invalidMsg("spec.template", "field is immutable")}},
		{name: "template changed", mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.36" },
			want: []want{invalidMsg("spec.template", "field is immutable")}},
		{name: "completions changed", mutate: func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(5)) },
			want: []want{invalidMsg("spec.completions", "field is immutable")}},
		{name: "suspended job gets node selector", old: func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) },
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }},
		{name: "started suspended job gets node selector", old: func(j *batchv1.Job) {
			j.Spec.Suspend = ptr(true)
			j.Status.StartTime = &metav1.Time{}
		}, mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} },
			want: []want{invalidMsg("spec.template", "field is immutable")}},
		{name: "indexed completions scaled with parallelism", old: func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = ptr(int32(3)), ptr(int32(3))
		}, mutate: func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr(int32(5)), ptr(int32(5)) }},
		{name: "indexed completions scaled alone", old: func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = ptr(int32(3)), ptr(int32(3))
		}, mutate: func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(5)) },
			want: []want{invalidMsg("spec.completions", "can only be modified in tandem with spec.parallelism")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validJob()
			old.ResourceVersion = "4"
			if tt.old != nil {
				tt.old(old)
			}
			j := old.DeepCopy()
			tt.mutate(j)
			checkErrors(t, "JobUpdate()", JobUpdate(j, old), tt.want...)
		})
	}
}

func TestJobStatusUpdate(t *testing.T) {
	complete := []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	tests := []struct {
		name   string
		old    batchv1.JobStatus
		status batchv1.JobStatus
		want   []want
	}{
		{name: "running", status: batchv1.JobStatus{Active: 1, Ready: ptr(int32(1))}},
		{name: "negative active", status: batchv1.JobStatus{Active: -1}, want: []want{invalid("status.active")}},
		{name: "uncounted duplicate", status: batchv1.JobStatus{UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}, Failed: []types.UID{"a"}}},
			want: []want{duplicate("status.uncountedTerminatedPods.failed[0]")}},
		{name: "complete condition removed", old: batchv1.JobStatus{Conditions: complete}, status: batchv1.JobStatus{},
			want: []want{invalidMsg("status.conditions", "cannot disable the terminal Complete=True condition")}},
		{name: "completed indexes on non-indexed job", status: batchv1.JobStatus{CompletedIndexes: "0"},
			want: []want{invalidMsg("status.completedIndexes", "cannot set non-empty completedIndexes when non-indexed completion mode")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validJob()
			old.ResourceVersion = "4"
			old.Status = tt.old
			j := old.DeepCopy()
			j.Status = tt.status
			checkErrors(t, "JobStatusUpdate()", JobStatusUpdate(j, old), tt.want...)
		})
	}
}

func validCronJob() *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "backup", Image: "busybox:1.36"}},
			}}}},
		},
	}
	defaults.Apply(cj)
	return cj
}

func TestCronJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(cj *batchv1.CronJob)
		want   []want
	}{
		{name: "valid", mutate: func(cj *batchv1.CronJob) {}},
		{name: "hourly descriptor", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }},
		{name: "time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr("Europe/Paris") }},
		{name: "schedule missing", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, want: []want{required("spec.schedule")}},
		{name: "schedule with six fields", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 */5 * * * *" },
			want: []want{invalidMsg("spec.schedule", "expected exactly 5 fields, found 6")}},
		{name: "schedule out of range", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" },
			want: []want{invalidMsg("spec.schedule", "end of range (61) above maximum (59)")}},
		{name: "TZ in schedule", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" },
			want: []want{invalidMsg("spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")}},
		{name: "unknown time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr("Mars/Olympus") },
			want: []want{invalidMsg("spec.timeZone", "unknown time zone Mars/Olympus")}},
		{name: "local time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr("Local") },
			want: []want{invalidMsg("spec.timeZone", "timeZone must be an explicit time zone")}},
		{name: "unknown concurrency policy", mutate: func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Queue" }, want: []want{notSupported("spec.concurrencyPolicy")}},
		{name: "name too long", mutate: func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("b", 53) },
			want: []want{invalidMsg("metadata.name", "must be no more than 52 characters")}},
		{name: "job template restart Always", mutate: func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		},
			want: []want{notSupported("spec.jobTemplate.spec.template.spec.restartPolicy")}},
		{name: "job template with selector", mutate: func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, want: []want{invalidMsg("spec.jobTemplate.spec.selector", "`selector` will be auto-generated")}},
		{name: "negative history limit", mutate: func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = ptr(int32(-1)) }, want: []want{invalid("spec.failedJobsHistoryLimit")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := validCronJob()
			tt.mutate(cj)
			checkErrors(t, "CronJob()", CronJob(cj), tt.want...)
		})
	}
}

func TestCronJobUpdate(t *testing.T) {
	tests := []struct {
		name   string
		old    func(cj *batchv1.CronJob)
		mutate func(cj *batchv1.CronJob)
		want   []want
	}{
		{name: "new schedule", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 3 * * *" }},
		{name: "TZ kept from old object", old: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" }, mutate: func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr(true) }},
		{name: "TZ added", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }, want: []want{invalid("spec.schedule")}},
		{name: "long name tolerated", old: func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("b", 60) }, mutate: func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validCronJob()
			old.ResourceVersion = "2"
			if tt.old != nil {
				tt.old(old)
			}
			cj := old.DeepCopy()
			tt.mutate(cj)
			checkErrors(t, "CronJobUpdate()", CronJobUpdate(cj, old), tt.want...)
		})
	}
}
