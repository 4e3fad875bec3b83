package deployment

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestRollingUpdateSimulation drives whole rollouts of 10 replicas, playing
// the ReplicaSet controller and the kubelets between syncs: pods of a
// ReplicaSet exist as soon as it is scaled and become available one round
// later. At every step the Deployment must stay within spec.replicas +
// maxSurge pods and spec.replicas - maxUnavailable available pods, and the
// rollout must finish with every pod on the new template.
func TestRollingUpdateSimulation(t *testing.T) {
	tests := []struct {
		surge, unavailable intstr.IntOrString
		wantMaxPods        int32
		wantMinAvailable   int32
	}{
		{surge: intstr.FromString("25%"), unavailable: intstr.FromString("25%"), wantMaxPods: 13, wantMinAvailable: 8},
		{surge: intstr.FromInt32(1), unavailable: intstr.FromInt32(0), wantMaxPods: 11, wantMinAvailable: 10},
		{surge: intstr.FromInt32(0), unavailable: intstr.FromInt32(1), wantMaxPods: 10, wantMinAvailable: 9},
		{surge: intstr.FromString("100%"), unavailable: intstr.FromInt32(0), wantMaxPods: 20, wantMinAvailable: 10},
		{surge: intstr.FromString("1%"), unavailable: intstr.FromString("1%"), wantMaxPods: 11, wantMinAvailable: 10},
		{surge: intstr.FromString("0%"), unavailable: intstr.FromString("1%"), wantMaxPods: 10, wantMinAvailable: 9},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("maxSurge=%s,maxUnavailable=%s", tt.surge.String(), tt.unavailable.String()), func(t *testing.T) {
			d := newDeployment("web", 10, withRolling(tt.surge, tt.unavailable))
			if got := 10 + maxSurge(d); got != tt.wantMaxPods {
				t.Fatalf("replicas + maxSurge = %d; want %d", got, tt.wantMaxPods)
			}
			if got := 10 - maxUnavailable(d); got != tt.wantMinAvailable {
				t.Fatalf("replicas - maxUnavailable = %d; want %d", got, tt.wantMinAvailable)
			}
			f, _ := startRollout(t, d, "nginx:2.0")
			sim := newSimulation(f)

			for step := 0; ; step++ {
				if step == 100 {
					t.Fatalf("rollout did not complete in 100 steps; sizes %v", f.sizes())
				}
				f.catchUp("web")
				f.sync("default/web")
				if pods := sim.desiredPods(); pods > tt.wantMaxPods {
					t.Fatalf("step %d: %d pods desired (%v); want at most %d", step, pods, f.sizes(), tt.wantMaxPods)
				}
				sim.advance()
				if pods := sim.pods(); pods > tt.wantMaxPods {
					t.Fatalf("step %d: %d pods exist; want at most %d", step, pods, tt.wantMaxPods)
				}
				if avail := sim.available(); avail < tt.wantMinAvailable {
					t.Fatalf("step %d: %d pods available (%v); want at least %d", step, avail, f.sizes(), tt.wantMinAvailable)
				}
				t.Logf("step %d: %v", step, f.sizes())
				if got := f.deployment("web"); deploymentComplete(got, &got.Status) {
					break
				}
			}

			got := f.deployment("web")
			if c := getCondition(got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewRSAvailable {
				t.Errorf("Progressing = %+v; want %s", c, ReasonNewRSAvailable)
			}
			if c := getCondition(got.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue {
				t.Errorf("Available = %+v; want True", c)
			}
			rss := f.replicaSets()
			if len(rss) != 2 || *rss[0].Spec.Replicas != 0 || *rss[1].Spec.Replicas != 10 {
				t.Errorf("final sizes = %v; want old=0 new=10", f.sizes())
			}
			if rev := got.Annotations[RevisionAnnotation]; rev != "2" {
				t.Errorf("Deployment revision = %q; want 2", rev)
			}
		})
	}
}

// simulation plays the ReplicaSet controller and the kubelets for a fixture:
// pods are created and deleted at once, and a pod becomes available in the
// round after it was created. Scale-downs remove unavailable pods first.
type simulation struct {
	f *fixture
}

func newSimulation(f *fixture) *simulation { return &simulation{f: f} }

// desiredPods sums spec.replicas over the ReplicaSets.
func (s *simulation) desiredPods() int32 {
	var n int32
	for _, rs := range s.f.replicaSets() {
		n += *rs.Spec.Replicas
	}
	return n
}

// pods sums status.replicas over the ReplicaSets.
func (s *simulation) pods() int32 {
	var n int32
	for _, rs := range s.f.replicaSets() {
		n += rs.Status.Replicas
	}
	return n
}

// available sums status.availableReplicas over the ReplicaSets.
func (s *simulation) available() int32 {
	var n int32
	for _, rs := range s.f.replicaSets() {
		n += rs.Status.AvailableReplicas
	}
	return n
}

// advance runs one round: pods that existed become available, then every
// ReplicaSet's pods match its spec (new ones unavailable).
func (s *simulation) advance() {
	for _, rs := range s.f.replicaSets() {
		want := *rs.Spec.Replicas
		existing := min(rs.Status.Replicas, want)
		rs.Status.Replicas = want
		rs.Status.FullyLabeledReplicas = want
		rs.Status.AvailableReplicas = existing
		rs.Status.ReadyReplicas = existing
		rs.Status.ObservedGeneration = rs.Generation
		s.f.store(rs)
	}
}
