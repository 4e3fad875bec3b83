package tables

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSimpleResourceColumns(t *testing.T) {
	rbac := func(r string) schema.GroupResource {
		return schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: r}
	}
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, Name: "alice"},
		{Kind: rbacv1.GroupKind, Name: "devs"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "bootstrap"},
		{Kind: rbacv1.UserKind, Name: "bob"},
		{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "ci"},
		{Kind: "Robot", Name: "r2"},
	}
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want map[string]any
	}{
		{
			name: "namespace",
			gr:   schema.GroupResource{Resource: "namespaces"},
			obj:  &corev1.Namespace{ObjectMeta: objMeta("team-a"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			want: map[string]any{"Name": "team-a", "Status": "Terminating", "Age": "60m"},
		},
		{
			name: "configmap counts data and binary data",
			gr:   schema.GroupResource{Resource: "configmaps"},
			obj: &corev1.ConfigMap{
				ObjectMeta: objMeta("settings"),
				Data:       map[string]string{"a": "1", "b": "2"},
				BinaryData: map[string][]byte{"c": {3}},
			},
			want: map[string]any{"Name": "settings", "Data": int64(3), "Age": "60m"},
		},
		{
			name: "secret",
			gr:   schema.GroupResource{Resource: "secrets"},
			obj: &corev1.Secret{
				ObjectMeta: objMeta("tls"), Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{"tls.crt": nil, "tls.key": nil},
			},
			want: map[string]any{"Name": "tls", "Type": "kubernetes.io/tls", "Data": int64(2), "Age": "60m"},
		},
		{
			name: "secret with unmerged string data",
			gr:   schema.GroupResource{Resource: "secrets"},
			obj: &corev1.Secret{
				ObjectMeta: objMeta("creds"), Type: corev1.SecretTypeOpaque,
				Data:       map[string][]byte{"user": nil},
				StringData: map[string]string{"user": "x", "password": "y"},
			},
			want: map[string]any{"Type": "Opaque", "Data": int64(2)},
		},
		{
			name: "service account",
			gr:   schema.GroupResource{Resource: "serviceaccounts"},
			obj:  &corev1.ServiceAccount{ObjectMeta: objMeta("default"), Secrets: []corev1.ObjectReference{{Name: "token"}}},
			want: map[string]any{"Name": "default", "Secrets": int64(1), "Age": "60m"},
		},
		{
			name: "role binding",
			gr:   rbac("rolebindings"),
			obj: &rbacv1.RoleBinding{
				ObjectMeta: objMeta("edit"), Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
			},
			want: map[string]any{
				"Name": "edit", "Role": "ClusterRole/edit", "Age": "60m", "Users": "alice, bob", "Groups": "devs",
				"ServiceAccounts": "kube-system/bootstrap, default/ci",
			},
		},
		{
			name: "cluster role binding without subjects",
			gr:   rbac("clusterrolebindings"),
			obj: &rbacv1.ClusterRoleBinding{
				ObjectMeta: objMeta("cluster-admin"),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			},
			want: map[string]any{"Role": "ClusterRole/cluster-admin", "Users": "", "Groups": "", "ServiceAccounts": ""},
		},
		{
			name: "role uses the default columns",
			gr:   rbac("roles"),
			obj:  &rbacv1.Role{ObjectMeta: objMeta("reader")},
			want: map[string]any{"Name": "reader", "Created At": "2025-03-14T11:00:00Z"},
		},
		{
			name: "cluster role uses the default columns",
			gr:   rbac("clusterroles"),
			obj:  &rbacv1.ClusterRole{ObjectMeta: objMeta("admin")},
			want: map[string]any{"Name": "admin", "Created At": "2025-03-14T11:00:00Z"},
		},
		{
			name: "held lease",
			gr:   schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"},
			obj:  &coordinationv1.Lease{ObjectMeta: objMeta("node-1"), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1")}},
			want: map[string]any{"Name": "node-1", "Holder": "node-1", "Age": "60m"},
		},
		{
			name: "free lease",
			gr:   schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"},
			obj:  &coordinationv1.Lease{ObjectMeta: objMeta("controller")},
			want: map[string]any{"Holder": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCells(t, tt.gr, tt.obj, tt.want)
		})
	}
}

func TestEventColumns(t *testing.T) {
	eventsGR := schema.GroupResource{Resource: "events"}
	pod := corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", FieldPath: "spec.containers{app}"}
	tests := []struct {
		name string
		ev   corev1.Event
		want []any
	}{
		{
			name: "legacy event",
			ev: corev1.Event{
				InvolvedObject: pod, Type: corev1.EventTypeNormal, Reason: "Pulled", Message: "Successfully pulled image\n",
				Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
				FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 3,
			},
			want: []any{"2m", "Normal", "Pulled", "pod/web-1", "spec.containers{app}", "kubelet, node-1",
				"Successfully pulled image", "10m", int64(3), "web-1.182c"},
		},
		{
			name: "new-style singleton",
			ev: corev1.Event{
				InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "node-1"}, Type: corev1.EventTypeWarning,
				Reason: "Rebooted", Message: "Node rebooted", EventTime: metav1.NewMicroTime(now.Add(-30 * time.Second)),
				ReportingController: "kubelet", ReportingInstance: "node-1",
			},
			want: []any{"30s", "Warning", "Rebooted", "node/node-1", "", "kubelet, node-1", "Node rebooted", "30s", int64(1), "web-1.182c"},
		},
		{
			name: "series",
			ev: corev1.Event{
				InvolvedObject: pod, Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting",
				EventTime: metav1.NewMicroTime(now.Add(-time.Hour)), ReportingController: "kubelet",
				Series: &corev1.EventSeries{Count: 12, LastObservedTime: metav1.NewMicroTime(now.Add(-5 * time.Second))},
			},
			want: []any{"5s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet", "Back-off restarting", "60m", int64(12), "web-1.182c"},
		},
		{
			name: "no timestamps, no name",
			ev: corev1.Event{
				InvolvedObject: corev1.ObjectReference{Kind: "ClusterIssuer"}, Reason: "Ready",
				Source: corev1.EventSource{Component: "issuer"}, ReportingInstance: "pod-7",
			},
			want: []any{"<unknown>", "", "Ready", "clusterissuer", "", "issuer, pod-7", "", "<unknown>", int64(1), "web-1.182c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			ev.ObjectMeta = objMeta("web-1.182c")
			row := convertOne(t, eventsGR, &ev)
			if diff := cmp.Diff(tt.want, row.Cells); diff != "" {
				t.Errorf("events row of %q mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestEventsAPIGroupColumns(t *testing.T) {
	ev := &eventsv1.Event{
		ObjectMeta: objMeta("web-1.99"),
		EventTime:  metav1.NewMicroTime(now.Add(-time.Hour)),
		Series:     &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-time.Minute))},
		Regarding:  corev1.ObjectReference{Kind: "Pod", Name: "web-1", FieldPath: "spec.containers{app}"},
		Reason:     "Unhealthy", Note: "Readiness probe failed", Type: corev1.EventTypeWarning,
		ReportingController: "kubelet", ReportingInstance: "node-2", Action: "Probe",
	}
	row := convertOne(t, schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, ev)
	want := []any{"60s", "Warning", "Unhealthy", "pod/web-1", "spec.containers{app}", "kubelet, node-2",
		"Readiness probe failed", "60m", int64(4), "web-1.99"}
	if diff := cmp.Diff(want, row.Cells); diff != "" {
		t.Errorf("events.k8s.io row mismatch (-want +got):\n%s", diff)
	}
}
