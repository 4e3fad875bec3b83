package nodelifecycle

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/capstan-io/capstan/nodeagent/gossip"
)

type fakeLiveness map[string]gossip.State

func (f fakeLiveness) Member(name string) (gossip.Member, bool) {
	s, ok := f[name]
	return gossip.Member{Name: name, State: s}, ok
}
func (f fakeLiveness) Subscribe() (<-chan gossip.Member, func()) {
	return make(chan gossip.Member), func() {}
}

func node(name string, gossiped bool, taints ...corev1.Taint) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"}, Spec: corev1.NodeSpec{Taints: taints}}
	if gossiped {
		n.Annotations = map[string]string{GossipAnnotation: "true"}
	}
	return n
}

func pod(name, nodeName string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "name"}, Spec: corev1.PodSpec{NodeName: nodeName, Tolerations: tolerations}}
}

func unreachable(at time.Time) corev1.Taint {
	ts := metav1.NewTime(at)
	return corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &ts}
}

func tolerate(seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

// setup builds a controller over seeded informers and a fake client.
func setup(t *testing.T, live fakeLiveness, clk *clocktesting.FakeClock, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	nodes, pods := factory.Core().V1().Nodes(), factory.Core().V1().Pods()
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Node:
			nodes.Informer().GetIndexer().Add(x)
		case *corev1.Pod:
			pods.Informer().GetIndexer().Add(x)
		}
	}
	opts := DefaultOptions()
	opts.Clock = clk
	c := NewController(client, nodes, pods, live, record.NewFakeRecorder(100), opts)
	c.started = clk.Now()
	client.ClearActions()
	return c, client
}

// writes summarises the write actions as "verb resource/subresource name".
func writes(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		switch a := a.(type) {
		case k8stesting.UpdateAction:
			name := a.GetObject().(metav1.Object).GetName()
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+"/"+a.GetSubresource()+" "+name)
		case k8stesting.DeleteAction:
			out = append(out, "delete "+a.GetResource().Resource+" "+a.GetName())
		}
	}
	return out
}

func TestNodeStatusFollowsGossip(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		node      *corev1.Node
		state     gossip.State
		known     bool
		elapsed   time.Duration
		want      []string
		wantTaint bool
	}{
		{name: "dead before convergence waits", node: node("n1", true), state: gossip.Dead, known: true, elapsed: time.Second},
		{name: "dead after convergence is tainted", node: node("n1", true), state: gossip.Dead, known: true, elapsed: 6 * time.Second,
			want: []string{"update nodes/ n1", "update nodes/status n1"}, wantTaint: true},
		{name: "left is tainted too", node: node("n1", true), state: gossip.Left, known: true, elapsed: 6 * time.Second,
			want: []string{"update nodes/ n1", "update nodes/status n1"}, wantTaint: true},
		{name: "alive is left alone", node: node("n1", true), state: gossip.Alive, known: true, elapsed: 6 * time.Second},
		{name: "alive again loses the taint", node: node("n1", true, unreachable(start)), state: gossip.Alive, known: true, elapsed: 6 * time.Second,
			want: []string{"update nodes/ n1"}},
		{name: "not gossiped is ignored", node: node("n1", false), state: gossip.Dead, known: true, elapsed: 6 * time.Second},
		{name: "never seen is not judged", node: node("n1", true), elapsed: 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := fakeLiveness{}
			if tt.known {
				live["n1"] = tt.state
			}
			clk := clocktesting.NewFakeClock(start)
			c, client := setup(t, live, clk, tt.node)
			clk.Step(tt.elapsed)
			if err := c.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := writes(client)
			if len(got) != len(tt.want) {
				t.Fatalf("writes = %v; want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("write %d = %q; want %q", i, got[i], tt.want[i])
				}
			}
			if tt.wantTaint {
				n, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
				if !hasUnreachableTaint(n) {
					t.Error("node lacks the unreachable taint")
				}
				if n.Status.Conditions[0].Status != corev1.ConditionUnknown {
					t.Errorf("Ready = %s; want Unknown", n.Status.Conditions[0].Status)
				}
			}
		})
	}
}

func TestEvictionHonoursTolerations(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	n := node("n1", true, unreachable(start))
	c, client := setup(t, fakeLiveness{"n1": gossip.Dead}, clk,
		n,
		pod("no-toleration", "n1"),
		pod("thirty-seconds", "n1", tolerate(ptr.To[int64](30))),
		pod("forever", "n1", tolerate(nil)),
		pod("elsewhere", "n2"),
	)
	c.started = start.Add(-time.Minute)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := writes(client); len(got) != 1 || got[0] != "delete pods no-toleration" {
		t.Fatalf("at the taint: writes = %v; want only the pod without a toleration deleted", got)
	}
	client.ClearActions()
	clk.Step(29 * time.Second)
	c.Sync(context.Background())
	if got := writes(client); len(got) != 1 || got[0] != "delete pods no-toleration" {
		t.Fatalf("after 29s: writes = %v; the 30s pod must wait", got)
	}
	client.ClearActions()
	clk.Step(2 * time.Second)
	c.Sync(context.Background())
	got := writes(client)
	deleted := map[string]bool{}
	for _, w := range got {
		deleted[w] = true
	}
	if !deleted["delete pods thirty-seconds"] || deleted["delete pods forever"] || deleted["delete pods elsewhere"] {
		t.Errorf("after 31s: writes = %v; want the 30s pod deleted, the others kept", got)
	}
}
