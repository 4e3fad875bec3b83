package nodeipam

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1"}}
	if cidr != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	}
	return n
}

// fixture is a controller over a fake clientset whose informer cache the test seeds.
type fixture struct {
	c      *Controller
	client *fake.Clientset
	cache  func(*corev1.Node)
}

func newFixture(t *testing.T, opts Options, nodes ...*corev1.Node) *fixture {
	t.Helper()
	var objs []runtime.Object
	for _, n := range nodes {
		objs = append(objs, n)
	}
	client := fake.NewSimpleClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	inf := f.Core().V1().Nodes()
	c, err := NewController(client, inf, record.NewFakeRecorder(10), opts)
	if err != nil {
		t.Fatal(err)
	}
	idx := inf.Informer().GetIndexer()
	for _, n := range nodes {
		if err := idx.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{c: c, client: client, cache: func(n *corev1.Node) {
		if err := idx.Update(n); err != nil {
			t.Fatal(err)
		}
	}}
}

// assigned returns the pod CIDRs the controller wrote, in order.
func (f *fixture) assigned() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok {
			out = append(out, u.GetObject().(*corev1.Node).Spec.PodCIDR)
		}
	}
	return out
}

func TestSync(t *testing.T) {
	small := Options{ClusterCIDR: netip.MustParsePrefix("10.0.0.0/23"), NodeMaskSize: 24}
	tests := []struct {
		name    string
		opts    Options
		nodes   []*corev1.Node
		sync    []string
		want    []string
		wantErr error
	}{
		{name: "first node gets the first block", opts: DefaultOptions(), nodes: []*corev1.Node{node("a", "")}, sync: []string{"a"}, want: []string{"10.244.0.0/24"}},
		{name: "lowest free block", opts: DefaultOptions(),
			nodes: []*corev1.Node{node("a", "10.244.0.0/24"), node("b", "10.244.2.0/24"), node("c", "")}, sync: []string{"c"}, want: []string{"10.244.1.0/24"}},
		{name: "a node with a block is left alone", opts: DefaultOptions(), nodes: []*corev1.Node{node("a", "10.244.7.0/24")}, sync: []string{"a"}},
		{name: "a deleted node is not an error", opts: DefaultOptions(), sync: []string{"gone"}},
		{name: "writes the cache has not shown yet still count", opts: DefaultOptions(),
			nodes: []*corev1.Node{node("a", ""), node("b", "")}, sync: []string{"a", "b"}, want: []string{"10.244.0.0/24", "10.244.1.0/24"}},
		{name: "full", opts: small, nodes: []*corev1.Node{node("a", "10.0.0.0/24"), node("b", "10.0.1.0/24"), node("c", "")}, sync: []string{"c"}, wantErr: ErrFull},
		{name: "ipv6", opts: Options{ClusterCIDR: netip.MustParsePrefix("fd00:10::/56"), NodeMaskSize: 64},
			nodes: []*corev1.Node{node("a", "fd00:10::/64"), node("b", "")}, sync: []string{"b"}, want: []string{"fd00:10:0:1::/64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts, tt.nodes...)
			var err error
			for _, name := range tt.sync {
				if err = f.c.Sync(context.Background(), name); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sync error = %v; want %v", err, tt.wantErr)
			}
			if got := f.assigned(); !slices.Equal(got, tt.want) {
				t.Errorf("assigned %v; want %v", got, tt.want)
			}
		})
	}
}

func TestBlockOfADeletedNodeIsReused(t *testing.T) {
	f := newFixture(t, DefaultOptions(), node("a", ""), node("b", ""))
	ctx := context.Background()
	if err := f.c.Sync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// The cache learns of a's block, then a is deleted.
	if err := f.c.informer.GetIndexer().Delete(node("a", "10.244.0.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Sync(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.assigned(), []string{"10.244.0.0/24", "10.244.0.0/24"}; !slices.Equal(got, want) {
		t.Errorf("assigned %v; want %v", got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"default", DefaultOptions(), true},
		{"unset", Options{NodeMaskSize: 24}, false},
		{"block larger than the cluster", Options{ClusterCIDR: netip.MustParsePrefix("10.0.0.0/24"), NodeMaskSize: 16}, false},
		{"no room for pods", Options{ClusterCIDR: netip.MustParsePrefix("10.0.0.0/16"), NodeMaskSize: 31}, false},
		{"too many blocks", Options{ClusterCIDR: netip.MustParsePrefix("10.0.0.0/8"), NodeMaskSize: 30}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok=%v", err, tt.ok)
			}
		})
	}
}
