package tables

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// template returns a pod template with two containers.
func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "nginx:1.27"},
		{Name: "log", Image: "fluent-bit:3"},
	}}}
}

var appSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func TestWorkloadColumns(t *testing.T) {
	apps := func(r string) schema.GroupResource { return schema.GroupResource{Group: "apps", Resource: r} }
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want map[string]any
	}{
		{
			name: "deployment rolling out",
			gr:   apps("deployments"),
			obj: &appsv1.Deployment{
				ObjectMeta: objMeta("web"),
				Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: appSelector, Template: template()},
				Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2},
			},
			want: map[string]any{
				"Name": "web", "Ready": "2/3", "Up-to-date": int64(1), "Available": int64(2), "Age": "60m",
				"Containers": "app,log", "Images": "nginx:1.27,fluent-bit:3", "Selector": "app=web",
			},
		},
		{
			name: "deployment without replicas or selector",
			gr:   apps("deployments"),
			obj:  &appsv1.Deployment{ObjectMeta: objMeta("web")},
			want: map[string]any{"Ready": "0/1", "Containers": "", "Images": "", "Selector": ""},
		},
		{
			name: "deployment with an invalid selector",
			gr:   apps("deployments"),
			obj: &appsv1.Deployment{ObjectMeta: objMeta("web"), Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}},
			}},
			want: map[string]any{"Selector": "<invalid>"},
		},
		{
			name: "replicaset",
			gr:   apps("replicasets"),
			obj: &appsv1.ReplicaSet{
				ObjectMeta: objMeta("web-5d8f9c7b6"),
				Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: appSelector, Template: template()},
				Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
			},
			want: map[string]any{
				"Name": "web-5d8f9c7b6", "Desired": int64(3), "Current": int64(3), "Ready": int64(1), "Age": "60m",
				"Containers": "app,log", "Images": "nginx:1.27,fluent-bit:3", "Selector": "app=web",
			},
		},
		{
			name: "replicaset scaled to zero without selector",
			gr:   apps("replicasets"),
			obj: &appsv1.ReplicaSet{
				ObjectMeta: objMeta("web-old"), Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(0))},
			},
			want: map[string]any{"Desired": int64(0), "Selector": "<none>"},
		},
		{
			name: "daemonset",
			gr:   apps("daemonsets"),
			obj: &appsv1.DaemonSet{
				ObjectMeta: objMeta("agent"),
				Spec: appsv1.DaemonSetSpec{Selector: appSelector, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
					Containers:   []corev1.Container{{Name: "agent", Image: "agent:2"}},
				}}},
				Status: appsv1.DaemonSetStatus{
					DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2,
				},
			},
			want: map[string]any{
				"Name": "agent", "Desired": int64(3), "Current": int64(3), "Ready": int64(2), "Up-to-date": int64(1),
				"Available": int64(2), "Node Selector": "kubernetes.io/os=linux", "Age": "60m",
				"Containers": "agent", "Images": "agent:2", "Selector": "app=web",
			},
		},
		{
			name: "daemonset without node selector",
			gr:   apps("daemonsets"),
			obj:  &appsv1.DaemonSet{ObjectMeta: objMeta("agent")},
			want: map[string]any{"Node Selector": "<none>", "Selector": "<none>"},
		},
		{
			name: "statefulset",
			gr:   apps("statefulsets"),
			obj: &appsv1.StatefulSet{
				ObjectMeta: objMeta("db"),
				Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Selector: appSelector, Template: template()},
				Status:     appsv1.StatefulSetStatus{ReadyReplicas: 2},
			},
			want: map[string]any{"Name": "db", "Ready": "2/3", "Age": "60m", "Containers": "app,log", "Images": "nginx:1.27,fluent-bit:3"},
		},
		{
			name: "controller revision of a statefulset",
			gr:   apps("controllerrevisions"),
			obj: &appsv1.ControllerRevision{
				ObjectMeta: metav1.ObjectMeta{
					Name: "db-7c9f5d", CreationTimestamp: ago(2 * time.Hour),
					OwnerReferences: []metav1.OwnerReference{
						{APIVersion: "v1", Kind: "ConfigMap", Name: "not-the-controller"},
						{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)},
					},
				},
				Revision: 4,
			},
			want: map[string]any{"Name": "db-7c9f5d", "Controller": "statefulset.apps/db", "Revision": int64(4), "Age": "120m"},
		},
		{
			name: "controller revision of a core kind",
			gr:   apps("controllerrevisions"),
			obj: &appsv1.ControllerRevision{
				ObjectMeta: metav1.ObjectMeta{Name: "x", OwnerReferences: []metav1.OwnerReference{
					{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptr(true)},
				}},
			},
			want: map[string]any{"Controller": "pod/p", "Age": "<unknown>"},
		},
		{
			name: "orphaned controller revision",
			gr:   apps("controllerrevisions"),
			obj:  &appsv1.ControllerRevision{ObjectMeta: objMeta("orphan"), Revision: 1},
			want: map[string]any{"Controller": "<none>", "Revision": int64(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, tt.gr, tt.obj, tt.want)
		})
	}
}

func TestJobColumns(t *testing.T) {
	jobsGR := schema.GroupResource{Group: "batch", Resource: "jobs"}
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: s}
	}
	deleted := ago(time.Second)
	tests := []struct {
		name string
		job  batchv1.Job
		want map[string]any
	}{
		{
			name: "not started",
			job:  batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Parallelism: ptr(int32(1))}},
			want: map[string]any{"Status": "Running", "Completions": "0/1", "Duration": ""},
		},
		{
			name: "running",
			job: batchv1.Job{
				Spec:   batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2))},
				Status: batchv1.JobStatus{Succeeded: 2, StartTime: agoPtr(150 * time.Second)},
			},
			want: map[string]any{"Status": "Running", "Completions": "2/5", "Duration": "2m30s"},
		},
		{
			name: "complete",
			job: batchv1.Job{
				Spec: batchv1.JobSpec{Completions: ptr(int32(1))},
				Status: batchv1.JobStatus{
					Succeeded: 1, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(time.Hour - 47*time.Second),
					Conditions: []batchv1.JobCondition{cond(batchv1.JobComplete, corev1.ConditionTrue)},
				},
			},
			want: map[string]any{"Status": "Complete", "Completions": "1/1", "Duration": "47s"},
		},
		{
			name: "failed",
			job: batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
				cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue),
			}}},
			want: map[string]any{"Status": "Failed", "Completions": "0/1"},
		},
		{
			name: "failure target",
			job: batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
				cond(batchv1.JobFailureTarget, corev1.ConditionTrue),
			}}},
			want: map[string]any{"Status": "FailureTarget"},
		},
		{
			name: "suspended",
			job: batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
				cond(batchv1.JobSuspended, corev1.ConditionTrue),
			}}},
			want: map[string]any{"Status": "Suspended"},
		},
		{
			name: "resumed",
			job: batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
				cond(batchv1.JobSuspended, corev1.ConditionFalse),
			}}},
			want: map[string]any{"Status": "Running"},
		},
		{
			name: "terminating",
			job: batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
					cond(batchv1.JobSuspended, corev1.ConditionTrue),
				}},
			},
			want: map[string]any{"Status": "Terminating"},
		},
		{
			name: "complete job being deleted",
			job: batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobComplete, corev1.ConditionTrue)}},
			},
			want: map[string]any{"Status": "Complete"},
		},
		{
			name: "work queue",
			job:  batchv1.Job{Spec: batchv1.JobSpec{Parallelism: ptr(int32(30))}, Status: batchv1.JobStatus{Succeeded: 4}},
			want: map[string]any{"Completions": "4/1 of 30"},
		},
		{
			name: "wide columns",
			job:  batchv1.Job{Spec: batchv1.JobSpec{Selector: appSelector, Template: template()}},
			want: map[string]any{"Containers": "app,log", "Images": "nginx:1.27,fluent-bit:3", "Selector": "app=web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := tt.job
			job.Name, job.CreationTimestamp = "pi", ago(time.Hour)
			want := map[string]any{"Name": "pi", "Age": "60m"}
			for k, v := range tt.want {
				want[k] = v
			}
			checkCells(t, jobsGR, &job, want)
		})
	}
}

func TestCronJobColumns(t *testing.T) {
	cronJobsGR := schema.GroupResource{Group: "batch", Resource: "cronjobs"}
	tests := []struct {
		name string
		cj   batchv1.CronJob
		want map[string]any
	}{
		{
			name: "never scheduled",
			cj:   batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *"}},
			want: map[string]any{
				"Schedule": "*/5 * * * *", "Timezone": "<none>", "Suspend": "<unset>", "Active": int64(0),
				"Last Schedule": "<none>", "Containers": "", "Images": "", "Selector": "<none>",
			},
		},
		{
			name: "active",
			cj: batchv1.CronJob{
				Spec: batchv1.CronJobSpec{
					Schedule: "0 3 * * *", TimeZone: ptr("Europe/Berlin"), Suspend: ptr(false),
					JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Selector: appSelector, Template: template()}},
				},
				Status: batchv1.CronJobStatus{
					Active:           []corev1.ObjectReference{{Name: "backup-1"}, {Name: "backup-2"}},
					LastScheduleTime: agoPtr(42 * time.Second),
				},
			},
			want: map[string]any{
				"Timezone": "Europe/Berlin", "Suspend": "False", "Active": int64(2), "Last Schedule": "42s",
				"Containers": "app,log", "Images": "nginx:1.27,fluent-bit:3", "Selector": "app=web",
			},
		},
		{
			name: "suspended",
			cj:   batchv1.CronJob{Spec: batchv1.CronJobSpec{Suspend: ptr(true)}},
			want: map[string]any{"Suspend": "True"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := tt.cj
			cj.ObjectMeta = objMeta("backup")
			want := map[string]any{"Name": "backup", "Age": "60m"}
			for k, v := range tt.want {
				want[k] = v
			}
			checkCells(t, cronJobsGR, &cj, want)
		})
	}
}
