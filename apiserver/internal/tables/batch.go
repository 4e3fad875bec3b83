package tables

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// jobConvertor prints jobs: STATUS, COMPLETIONS and DURATION.
var jobConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", "Status of the job."),
		column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		column("Duration", "string", "Time required to complete the job."),
		ageColumn(),
	}, append(templateColumns(),
		wideColumn("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	)...),
	row: cellsOf(func(job *batchv1.Job, now time.Time) []any {
		names, images := containerCells(job.Spec.Template.Spec.Containers)
		return []any{
			job.Name,
			jobStatus(job),
			jobCompletions(job),
			jobDuration(job, now),
			since(job.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(job.Spec.Selector),
		}
	}),
}

// jobStatus summarizes a job's conditions: Complete, Failed, Terminating (being deleted),
// Suspended, FailureTarget or Running, in that order of precedence.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobConditionTrue(job, batchv1.JobComplete):
		return "Complete"
	case jobConditionTrue(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobConditionTrue(job, batchv1.JobSuspended):
		return "Suspended"
	case jobConditionTrue(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	default:
		return "Running"
	}
}

// jobConditionTrue reports whether the job's first condition of type t is True.
func jobConditionTrue(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions renders succeeded pods against the wanted completions: "1/3", or "0/1 of 5"
// for a work queue job (no completions) running 5 pods in parallel.
func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if p := job.Spec.Parallelism; p != nil && *p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, *p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

// jobDuration is how long the job ran (until now while it still runs), or "" if it never started.
func jobDuration(job *batchv1.Job, now time.Time) string {
	switch start, end := job.Status.StartTime, job.Status.CompletionTime; {
	case start == nil:
		return ""
	case end == nil:
		return duration.HumanDuration(now.Sub(start.Time))
	default:
		return duration.HumanDuration(end.Sub(start.Time))
	}
}

// cronJobConvertor prints cronjobs: SCHEDULE, TIMEZONE, SUSPEND, ACTIVE and LAST SCHEDULE.
var cronJobConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Schedule", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]),
		column("Timezone", "string", batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
		column("Suspend", "boolean", batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]),
		column("Active", "integer", batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]),
		column("Last Schedule", "string", batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
		ageColumn(),
	}, append(templateColumns(),
		wideColumn("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	)...),
	row: cellsOf(func(cj *batchv1.CronJob, now time.Time) []any {
		lastSchedule := none
		if t := cj.Status.LastScheduleTime; t != nil {
			lastSchedule = since(*t, now)
		}
		timeZone := none
		if cj.Spec.TimeZone != nil {
			timeZone = *cj.Spec.TimeZone
		}
		tmpl := &cj.Spec.JobTemplate.Spec
		names, images := containerCells(tmpl.Template.Spec.Containers)
		return []any{
			cj.Name,
			cj.Spec.Schedule,
			timeZone,
			boolCell(cj.Spec.Suspend),
			int64(len(cj.Status.Active)),
			lastSchedule,
			since(cj.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(tmpl.Selector),
		}
	}),
}
