package startbench

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
)

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Master, ok.Image = &rest.Config{}, "capstan.local/busybox:1.35"
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{name: "default", edit: func(*Config) {}, ok: true},
		{name: "no master", edit: func(c *Config) { c.Master = nil }},
		{name: "no image", edit: func(c *Config) { c.Image = "" }},
		{name: "no pods", edit: func(c *Config) { c.Pods = 0 }},
		{name: "zero rate", edit: func(c *Config) { c.Rate = 0 }},
		{name: "absurd rate", edit: func(c *Config) { c.Rate = 5000 }},
		{name: "no timeout", edit: func(c *Config) { c.Timeout = -time.Second }},
		{name: "no namespace", edit: func(c *Config) { c.Namespace = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestAllRunning(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	two := []corev1.Container{{Name: "a"}, {Name: "b"}}
	tests := []struct {
		name     string
		statuses []corev1.ContainerStatus
		want     bool
	}{
		{name: "no statuses yet", want: false},
		{name: "one of two reported", statuses: []corev1.ContainerStatus{running}, want: false},
		{name: "one waiting", statuses: []corev1.ContainerStatus{running, waiting}, want: false},
		{name: "all running", statuses: []corev1.ContainerStatus{running, running}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{ContainerStatuses: tt.statuses}}
			if got := allRunning(pod); got != tt.want {
				t.Errorf("allRunning = %v; want %v", got, tt.want)
			}
		})
	}
}
