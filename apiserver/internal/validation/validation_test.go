package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestCreateDispatch checks that Create reaches the rules of every served
// type: an empty object of each kind fails at least on its metadata or
// required fields, and an unknown type passes.
func TestCreateDispatch(t *testing.T) {
	tests := []struct {
		name    string
		obj     runtime.Object
		wantErr bool
	}{
		{name: "Namespace", obj: &corev1.Namespace{}, wantErr: true},
		{name: "Pod", obj: &corev1.Pod{}, wantErr: true},
		{name: "Binding", obj: &corev1.Binding{}, wantErr: true},
		{name: "Eviction", obj: &policyv1.Eviction{}, wantErr: true},
		{name: "Node", obj: &corev1.Node{}, wantErr: true},
		{name: "Service", obj: &corev1.Service{}, wantErr: true},
		{name: "Endpoints", obj: &corev1.Endpoints{}, wantErr: true},
		{name: "ConfigMap", obj: &corev1.ConfigMap{}, wantErr: true},
		{name: "Secret", obj: &corev1.Secret{}, wantErr: true},
		{name: "ServiceAccount", obj: &corev1.ServiceAccount{}, wantErr: true},
		{name: "Event", obj: &corev1.Event{InvolvedObject: corev1.ObjectReference{Namespace: "a"}}, wantErr: true},
		{name: "Deployment", obj: &appsv1.Deployment{}, wantErr: true},
		{name: "ReplicaSet", obj: &appsv1.ReplicaSet{}, wantErr: true},
		{name: "DaemonSet", obj: &appsv1.DaemonSet{}, wantErr: true},
		{name: "StatefulSet", obj: &appsv1.StatefulSet{}, wantErr: true},
		{name: "ControllerRevision", obj: &appsv1.ControllerRevision{}, wantErr: true},
		{name: "Scale", obj: &autoscalingv1.Scale{}, wantErr: true},
		{name: "Job", obj: &batchv1.Job{}, wantErr: true},
		{name: "CronJob", obj: &batchv1.CronJob{}, wantErr: true},
		{name: "EndpointSlice", obj: &discoveryv1.EndpointSlice{}, wantErr: true},
		{name: "Role", obj: &rbacv1.Role{}, wantErr: true},
		{name: "ClusterRole", obj: &rbacv1.ClusterRole{}, wantErr: true},
		{name: "RoleBinding", obj: &rbacv1.RoleBinding{}, wantErr: true},
		{name: "ClusterRoleBinding", obj: &rbacv1.ClusterRoleBinding{}, wantErr: true},
		{name: "Lease", obj: &coordinationv1.Lease{}, wantErr: true},
		{name: "unknown type", obj: &corev1.PersistentVolume{}, wantErr: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Create(tt.obj)
			if got := len(errs) > 0; got != tt.wantErr {
				t.Errorf("Create(%T) = %v; want errors: %v", tt.obj, errs, tt.wantErr)
			}
		})
	}
}

func TestUpdateDispatch(t *testing.T) {
	old := storedPod()
	tests := []struct {
		name     string
		obj, old runtime.Object
		status   bool
		want     []want
	}{
		{name: "pod update", obj: old.DeepCopy(), old: old},
		{name: "pod status update", obj: old.DeepCopy(), old: old, status: true},
		{name: "pod update changing the node", obj: func() runtime.Object { p := old.DeepCopy(); p.Spec.NodeName = "node-1"; return p }(), old: old,
			want: []want{forbidden("spec")}},
		{name: "pod status update changing the node", obj: func() runtime.Object { p := old.DeepCopy(); p.Spec.NodeName = "node-1"; return p }(), old: old, status: true,
			want: []want{forbidden("status.nodeName")}},
		{name: "type mismatch", obj: old.DeepCopy(), old: &corev1.Service{}, want: []want{{typ: field.ErrorTypeInternal, field: "<nil>"}}},
		{name: "nil old", obj: old.DeepCopy(), old: nil, want: []want{{typ: field.ErrorTypeInternal, field: "<nil>"}}},
		{name: "unknown type", obj: &corev1.PersistentVolume{}, old: &corev1.PersistentVolume{}},
		{name: "unknown status type", obj: &corev1.ConfigMap{}, old: &corev1.ConfigMap{}, status: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status {
				checkErrors(t, "UpdateStatus()", UpdateStatus(tt.obj, tt.old), tt.want...)
				return
			}
			checkErrors(t, "Update()", Update(tt.obj, tt.old), tt.want...)
		})
	}
}
