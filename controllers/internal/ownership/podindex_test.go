package ownership

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestPodIndex(t *testing.T) {
	pod := func(ns, name string, controller types.UID, owners ...types.UID) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		for _, uid := range owners {
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{UID: uid, Name: string(uid)})
		}
		if controller != "" {
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{UID: controller, Name: string(controller), Controller: ptr.To(true)})
		}
		return p
	}
	informer := informers.NewSharedInformerFactory(fake.NewClientset(), 0).Core().V1().Pods().Informer()
	idx, err := NewPodIndex(informer)
	if err != nil {
		t.Fatal(err)
	}
	// A second index over the same informer reuses the first's.
	if _, err := NewPodIndex(informer); err != nil {
		t.Fatalf("second NewPodIndex: %v", err)
	}
	for _, p := range []*corev1.Pod{
		pod("a", "rs1-x", "rs1"),
		pod("a", "rs1-y", "rs1"),
		pod("a", "rs2-x", "rs2"),
		pod("b", "rs1-z", "rs1"),           // same UID in another namespace
		pod("a", "orphan", ""),             // no owner at all
		pod("a", "owned-not-ctl", "", "x"), // an owner that is not its controller
	} {
		if err := informer.GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		ns   string
		uid  types.UID
		want []string
	}{
		{"a", "rs1", []string{"rs1-x", "rs1-y"}},
		{"a", "rs2", []string{"rs2-x"}},
		{"b", "rs1", []string{"rs1-z"}},
		{"a", "", []string{"orphan", "owned-not-ctl"}},
		{"b", "", nil},
		{"a", "nobody", nil},
	} {
		pods, err := idx.Controlled(tc.ns, tc.uid)
		if err != nil {
			t.Fatalf("Controlled(%q, %q): %v", tc.ns, tc.uid, err)
		}
		var got []string
		for _, p := range pods {
			got = append(got, p.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Controlled(%q, %q) = %v, want %v", tc.ns, tc.uid, got, tc.want)
		}
	}
}
