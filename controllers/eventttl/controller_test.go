package eventttl

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"
)

func TestSweep(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) metav1.Time { return metav1.NewTime(now.Add(-ago)) }
	event := func(name string, mutate func(*corev1.Event)) *corev1.Event {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), ResourceVersion: "5"}}
		mutate(ev)
		return ev
	}
	tests := []struct {
		name   string
		events []*corev1.Event
		want   []string
	}{
		{name: "old event", events: []*corev1.Event{event("old", func(e *corev1.Event) { e.CreationTimestamp, e.LastTimestamp = at(3*time.Hour), at(2*time.Hour) })}, want: []string{"old"}},
		{name: "recent event", events: []*corev1.Event{event("new", func(e *corev1.Event) { e.CreationTimestamp, e.LastTimestamp = at(3*time.Hour), at(time.Minute) })}},
		{name: "created long ago, recurring", events: []*corev1.Event{event("series", func(e *corev1.Event) {
			e.CreationTimestamp = at(5 * time.Hour)
			e.Series = &corev1.EventSeries{Count: 9, LastObservedTime: metav1.NewMicroTime(now.Add(-10 * time.Minute))}
		})}},
		{name: "only a creation time", events: []*corev1.Event{event("bare", func(e *corev1.Event) { e.CreationTimestamp = at(61 * time.Minute) })}, want: []string{"bare"}},
		{name: "mixed", events: []*corev1.Event{
			event("a", func(e *corev1.Event) { e.LastTimestamp = at(2 * time.Hour) }),
			event("b", func(e *corev1.Event) { e.LastTimestamp = at(59 * time.Minute) }),
			event("c", func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(now.Add(-90 * time.Minute)) }),
		}, want: []string{"a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, ev := range tt.events {
				objs = append(objs, ev)
			}
			client := fake.NewSimpleClientset(objs...)
			inf := informers.NewSharedInformerFactory(client, 0).Core().V1().Events().Informer()
			for _, ev := range tt.events {
				if err := inf.GetStore().Add(ev); err != nil {
					t.Fatal(err)
				}
			}
			opts := DefaultOptions()
			opts.Clock = testclock.NewFakePassiveClock(now)
			c, err := NewController(client, inf, opts)
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.Sweep(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range client.Actions() {
				if d, ok := a.(clienttesting.DeleteAction); ok {
					if d.GetDeleteOptions().Preconditions == nil || d.GetDeleteOptions().Preconditions.UID == nil {
						t.Errorf("delete of %s has no UID precondition", d.GetName())
					}
					got = append(got, d.GetName())
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || n != len(tt.want) {
				t.Errorf("Sweep deleted %v (reported %d); want %v", got, n, tt.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"default", DefaultOptions(), true},
		{"zero ttl", Options{Interval: time.Minute}, false},
		{"zero interval", Options{TTL: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok=%v", err, tt.ok)
			}
		})
	}
}
