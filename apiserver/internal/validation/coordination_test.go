package validation

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLease(t *testing.T) {
	tests := []struct {
		name string
		spec coordinationv1.LeaseSpec
		want []want
	}{
		{name: "valid", spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-1"), LeaseDurationSeconds: ptr(int32(40))}},
		{name: "zero duration", spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr(int32(0))}, want: []want{invalidMsg("spec.leaseDurationSeconds", "must be greater than 0")}},
		{name: "negative transitions", spec: coordinationv1.LeaseSpec{LeaseTransitions: ptr(int32(-1))}, want: []want{invalid("spec.leaseTransitions")}},
		{name: "preferred holder without strategy", spec: coordinationv1.LeaseSpec{PreferredHolder: ptr("node-2")}, want: []want{forbidden("spec.preferredHolder")}},
		{name: "unknown strategy", spec: coordinationv1.LeaseSpec{Strategy: ptr(coordinationv1.CoordinatedLeaseStrategy("Newest"))}, want: []want{notSupported("spec.strategy.strategy")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"}, Spec: tt.spec}
			checkErrors(t, "Lease()", Lease(l), tt.want...)
		})
	}
	t.Run("renew", func(t *testing.T) {
		old := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease", ResourceVersion: "8"}}
		l := old.DeepCopy()
		now := metav1.NowMicro()
		l.Spec.RenewTime = &now
		checkErrors(t, "LeaseUpdate()", LeaseUpdate(l, old))
	})
}
