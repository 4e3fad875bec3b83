package validation

import (
	"testing"

	"github.com/capstan-io/capstan/apiserver/internal/defaults"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDeployment(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   []want
	}{
		{name: "valid", mutate: func(d *appsv1.Deployment) {}},
		{name: "recreate strategy", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}},
		{name: "selector missing", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			want: []want{required("spec.selector"), invalid("spec.template.metadata.labels")}},
		{name: "empty selector", mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want: []want{invalidMsg("spec.selector", "empty selector is invalid for deployment")}},
		{name: "selector does not match template", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			want: []want{invalidMsg("spec.template.metadata.labels", "`selector` does not match template `labels`")}},
		{name: "negative replicas", mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(-1)) }, want: []want{invalid("spec.replicas")}},
		{name: "maxSurge and maxUnavailable both zero", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr(intstr.FromInt32(0)), MaxUnavailable: ptr(intstr.FromString("0%"))}
		}, want: []want{invalidMsg("spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0")}},
		{name: "maxUnavailable above 100%", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("150%"))
		}, want: []want{invalidMsg("spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%")}},
		{name: "maxSurge not a percentage", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromString("half"))
		}, want: []want{invalid("spec.strategy.rollingUpdate.maxSurge")}},
		{name: "recreate with rollingUpdate", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			want: []want{forbidden("spec.strategy.rollingUpdate")}},
		{name: "unknown strategy", mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, want: []want{notSupported("spec.strategy")}},
		{name: "negative revision history", mutate: func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr(int32(-1)) }, want: []want{invalid("spec.revisionHistoryLimit")}},
		{name: "progress deadline not above minReadySeconds", mutate: func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 600
		}, want: []want{invalidMsg("spec.progressDeadlineSeconds", "must be greater than minReadySeconds")}},
		{name: "template restart policy", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			want: []want{notSupported("spec.template.spec.restartPolicy")}},
		{name: "template active deadline", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(10)) },
			want: []want{forbidden("spec.template.spec.activeDeadlineSeconds")}},
		{name: "template container invalid", mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			want: []want{required("spec.template.spec.containers[0].image")}},
		{name: "name not a DNS subdomain", mutate: func(d *appsv1.Deployment) { d.Name = "Web" }, want: []want{invalid("metadata.name")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			tt.mutate(d)
			defaults.Apply(d)
			checkErrors(t, "Deployment()", Deployment(d), tt.want...)
		})
	}
}

func TestDeploymentUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   []want
	}{
		{name: "scale and new image", mutate: func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr(int32(5))
			d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
		}},
		{name: "selector changed", mutate: func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "web", "tier": "front"}
			d.Spec.Template.Labels["tier"] = "front"
		}, want: []want{invalidMsg("spec.selector", "field is immutable")}},
		{name: "generation decremented", mutate: func(d *appsv1.Deployment) { d.Generation = 1 }, want: []want{invalidMsg("metadata.generation", "must not be decremented")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validDeployment()
			old.ResourceVersion, old.Generation = "5", 2
			d := old.DeepCopy()
			tt.mutate(d)
			checkErrors(t, "DeploymentUpdate()", DeploymentUpdate(d, old), tt.want...)
		})
	}
}

func TestDeploymentStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		status appsv1.DeploymentStatus
		want   []want
	}{
		{name: "progressing", status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1}},
		{name: "more ready than replicas", status: appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 1},
			want: []want{invalidMsg("status.readyReplicas", "cannot be greater than status.replicas")}},
		{name: "more available than ready", status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 1, AvailableReplicas: 2},
			want: []want{invalidMsg("status.availableReplicas", "cannot be greater than readyReplicas")}},
		{name: "negative replicas", status: appsv1.DeploymentStatus{Replicas: -1}, want: []want{
			invalid("status.replicas"), invalid("status.updatedReplicas"), invalid("status.readyReplicas"), invalid("status.availableReplicas"),
		}},
		{name: "collision count decremented", status: appsv1.DeploymentStatus{CollisionCount: ptr(int32(0))}, want: []want{invalidMsg("status.collisionCount", "cannot be decremented")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validDeployment()
			old.ResourceVersion = "5"
			old.Status.CollisionCount = ptr(int32(1))
			d := old.DeepCopy()
			d.Status = tt.status
			if d.Status.CollisionCount == nil {
				d.Status.CollisionCount = ptr(int32(1))
			}
			checkErrors(t, "DeploymentStatusUpdate()", DeploymentStatusUpdate(d, old), tt.want...)
		})
	}
}

func TestReplicaSet(t *testing.T) {
	valid := func() *appsv1.ReplicaSet {
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web-6d4cf56db6", Namespace: "default"},
			Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: validTemplate()},
		}
		defaults.Apply(rs)
		return rs
	}
	tests := []struct {
		name   string
		mutate func(rs *appsv1.ReplicaSet)
		want   []want
	}{
		{name: "valid", mutate: func(rs *appsv1.ReplicaSet) {}},
		{name: "selector missing", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil },
			want: []want{required("spec.selector"), invalid("spec.template.metadata.labels")}},
		{name: "negative minReadySeconds", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = -1 }, want: []want{invalid("spec.minReadySeconds")}},
		{name: "invalid selector operator", mutate: func(rs *appsv1.ReplicaSet) {
			rs.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		}, want: []want{invalid("spec.selector.matchExpressions[0].operator"), invalid("spec.selector")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := valid()
			tt.mutate(rs)
			checkErrors(t, "ReplicaSet()", ReplicaSet(rs), tt.want...)
		})
	}
	t.Run("selector immutable", func(t *testing.T) {
		old := valid()
		old.ResourceVersion = "3"
		rs := old.DeepCopy()
		rs.Spec.Selector.MatchLabels = nil
		rs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}
		checkErrors(t, "ReplicaSetUpdate()", ReplicaSetUpdate(rs, old), invalidMsg("spec.selector", "field is immutable"))
	})
	t.Run("status fully labeled above replicas", func(t *testing.T) {
		old := valid()
		old.ResourceVersion = "3"
		rs := old.DeepCopy()
		rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2}
		checkErrors(t, "ReplicaSetStatusUpdate()", ReplicaSetStatusUpdate(rs, old), invalid("status.fullyLabeledReplicas"))
	})
}

func TestDaemonSet(t *testing.T) {
	valid := func() *appsv1.DaemonSet {
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system"},
			Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: validTemplate()},
		}
		defaults.Apply(ds)
		return ds
	}
	tests := []struct {
		name   string
		mutate func(ds *appsv1.DaemonSet)
		want   []want
	}{
		{name: "valid", mutate: func(ds *appsv1.DaemonSet) {}},
		{name: "surge instead of unavailable", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr(intstr.FromInt32(0)), MaxSurge: ptr(intstr.FromInt32(1))}
		}},
		{name: "both surge and unavailable", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(1))
		}, want: []want{invalidMsg("spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero")}},
		{name: "neither surge nor unavailable", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt32(0))
		}, want: []want{required("spec.updateStrategy.rollingUpdate.maxUnavailable")}},
		{name: "unknown strategy", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Canary" }, want: []want{notSupported("spec.updateStrategy")}},
		{name: "selector does not match", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Labels = map[string]string{"app": "x"} },
			want: []want{invalid("spec.template.metadata.labels")}},
		{name: "empty selector", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} },
			want: []want{invalidMsg("spec.selector", "empty selector is invalid for daemonset")}},
		{name: "template restart policy", mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []want{notSupported("spec.template.spec.restartPolicy")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := valid()
			tt.mutate(ds)
			checkErrors(t, "DaemonSet()", DaemonSet(ds), tt.want...)
		})
	}
	t.Run("selector immutable", func(t *testing.T) {
		old := valid()
		old.ResourceVersion = "3"
		ds := old.DeepCopy()
		ds.Spec.Selector.MatchLabels["tier"] = "x"
		ds.Spec.Template.Labels["tier"] = "x"
		checkErrors(t, "DaemonSetUpdate()", DaemonSetUpdate(ds, old), invalidMsg("spec.selector", "field is immutable"))
	})
	t.Run("status negative", func(t *testing.T) {
		old := valid()
		old.ResourceVersion = "3"
		ds := old.DeepCopy()
		ds.Status.NumberReady = -1
		checkErrors(t, "DaemonSetStatusUpdate()", DaemonSetStatusUpdate(ds, old), invalid("status.numberReady"))
	})
}

func validStatefulSet() *appsv1.StatefulSet {
	ss := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template:    validTemplate(),
		},
	}
	defaults.Apply(ss)
	return ss
}

func TestStatefulSet(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ss *appsv1.StatefulSet)
		want   []want
	}{
		{name: "valid", mutate: func(ss *appsv1.StatefulSet) {}},
		{name: "name not a DNS label", mutate: func(ss *appsv1.StatefulSet) { ss.Name = "db.primary" }, want: []want{invalid("metadata.name")}},
		{name: "unknown pod management policy", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" }, want: []want{invalid("spec.podManagementPolicy")}},
		{name: "negative partition", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(-1)) },
			want: []want{invalid("spec.updateStrategy.rollingUpdate.partition")}},
		{name: "OnDelete with rollingUpdate", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType },
			want: []want{invalid("spec.updateStrategy.rollingUpdate")}},
		{name: "unknown retention policy", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = "Archive" },
			want: []want{notSupported("spec.persistentVolumeClaimRetentionPolicy.whenDeleted")}},
		{name: "selector missing", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Selector = nil },
			want: []want{required("spec.selector"), invalid("spec.template.metadata.labels")}},
		{name: "selector does not match", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Template.Labels = nil },
			want: []want{invalid("spec.template.metadata.labels")}},
		{name: "template restart policy", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want: []want{notSupported("spec.template.spec.restartPolicy")}},
		{name: "negative replicas", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.Replicas = ptr(int32(-2)) }, want: []want{invalid("spec.replicas")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := validStatefulSet()
			tt.mutate(ss)
			checkErrors(t, "StatefulSet()", StatefulSet(ss), tt.want...)
		})
	}
}

func TestStatefulSetUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ss *appsv1.StatefulSet)
		want   []want
	}{
		{name: "scale and new template", mutate: func(ss *appsv1.StatefulSet) {
			ss.Spec.Replicas = ptr(int32(3))
			ss.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
		}},
		{name: "service name changed", mutate: func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "db2" },
			want: []want{forbiddenMsg("spec", "updates to statefulset spec for fields other than")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := validStatefulSet()
			old.ResourceVersion = "9"
			ss := old.DeepCopy()
			tt.mutate(ss)
			checkErrors(t, "StatefulSetUpdate()", StatefulSetUpdate(ss, old), tt.want...)
		})
	}
	t.Run("status ready above replicas", func(t *testing.T) {
		old := validStatefulSet()
		old.ResourceVersion = "9"
		ss := old.DeepCopy()
		ss.Status = appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 1}
		checkErrors(t, "StatefulSetStatusUpdate()", StatefulSetStatusUpdate(ss, old), invalidMsg("status.readyReplicas", "cannot be greater than status.replicas"))
	})
}

func TestControllerRevision(t *testing.T) {
	tests := []struct {
		name string
		cr   appsv1.ControllerRevision
		want []want
	}{
		{name: "valid", cr: appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}, Revision: 1}},
		{name: "data missing", cr: appsv1.ControllerRevision{Revision: 1}, want: []want{required("data")}},
		{name: "negative revision", cr: appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{}`)}, Revision: -1}, want: []want{invalid("revision")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cr.ObjectMeta = metav1.ObjectMeta{Name: "db-7b9f8c", Namespace: "default"}
			checkErrors(t, "ControllerRevision()", ControllerRevision(&tt.cr), tt.want...)
		})
	}
	t.Run("data immutable", func(t *testing.T) {
		old := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "db-7b9f8c", Namespace: "default", ResourceVersion: "1"}, Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}, Revision: 1}
		cr := old.DeepCopy()
		cr.Data.Raw = []byte(`{"a":2}`)
		checkErrors(t, "ControllerRevisionUpdate()", ControllerRevisionUpdate(cr, old), invalidMsg("data", "field is immutable"))
	})
}

func TestScale(t *testing.T) {
	tests := []struct {
		name     string
		replicas int32
		want     []want
	}{
		{name: "zero", replicas: 0},
		{name: "five", replicas: 5},
		{name: "negative", replicas: -1, want: []want{invalidMsg("spec.replicas", "must be greater than or equal to 0")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: tt.replicas}}
			checkErrors(t, "Scale()", Scale(s), tt.want...)
		})
	}
}
