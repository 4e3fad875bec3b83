package patch

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestKeepUnchangedTimestamps(t *testing.T) {
	// restamp returns a copy of d whose managedFields times are an hour later, as the field
	// manager leaves them when it saw a change that the registry strategy then undid.
	restamp := func(d *appsv1.Deployment) *appsv1.Deployment {
		out := d.DeepCopy()
		for i := range out.ManagedFields {
			out.ManagedFields[i].Time = &metav1.Time{Time: out.ManagedFields[i].Time.Add(time.Hour)}
		}
		return out
	}
	tests := []struct {
		name  string
		write func(live *appsv1.Deployment) *appsv1.Deployment
		want  bool
	}{
		{name: "only timestamps changed", write: restamp, want: true},
		{
			name: "timestamps and apiVersion and kind changed",
			write: func(live *appsv1.Deployment) *appsv1.Deployment {
				d := restamp(live)
				d.TypeMeta = metav1.TypeMeta{}
				return d
			},
			want: true,
		},
		{
			name: "timestamps and a value changed",
			write: func(live *appsv1.Deployment) *appsv1.Deployment {
				d := restamp(live)
				d.Spec.Paused = true
				return d
			},
		},
		{
			name: "timestamps and an owner changed",
			write: func(live *appsv1.Deployment) *appsv1.Deployment {
				d := restamp(live)
				d.ManagedFields[0].Manager = "other"
				return d
			},
		},
		{
			name: "an entry was added",
			write: func(live *appsv1.Deployment) *appsv1.Deployment {
				d := restamp(live)
				d.ManagedFields = append(d.ManagedFields, d.ManagedFields[0])
				return d
			},
		},
		{name: "nothing changed", write: func(live *appsv1.Deployment) *appsv1.Deployment { return live.DeepCopy() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			live := appliedDeployment(t)
			obj := tt.write(live)
			before := obj.DeepCopy()
			if got := KeepUnchangedTimestamps(obj, live); got != tt.want {
				t.Fatalf("KeepUnchangedTimestamps() = %v; want %v", got, tt.want)
			}
			want := before.ManagedFields
			if tt.want {
				want = live.ManagedFields
			}
			if d := diff(obj.ManagedFields, want); d != "" {
				t.Errorf("managedFields after KeepUnchangedTimestamps() (-want +got):\n%s", d)
			}
		})
	}
	t.Run("a no-op apply keeps the timestamps by itself", func(t *testing.T) {
		t.Parallel()
		live := appliedDeployment(t)
		live.ManagedFields[0].Time = &metav1.Time{Time: live.ManagedFields[0].Time.Add(-time.Hour)}
		obj := mustPatch(t, live, deploymentGVK, types.ApplyYAMLPatchType, applyYAML, applyOpts).Object.(*appsv1.Deployment)
		if d := diff(obj.ManagedFields, live.ManagedFields); d != "" {
			t.Errorf("managedFields after a no-op apply (-want +got):\n%s", d)
		}
	})
	t.Run("nil objects", func(t *testing.T) {
		t.Parallel()
		if KeepUnchangedTimestamps(nil, newPod()) || KeepUnchangedTimestamps(newPod(), (*appsv1.Deployment)(nil)) {
			t.Errorf("KeepUnchangedTimestamps(nil) = true; want false")
		}
	})
}
