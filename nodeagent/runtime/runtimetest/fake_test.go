package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

func TestEnsureImage(t *testing.T) {
	tests := []struct {
		name    string
		present bool
		pullErr error
		policy  corev1.PullPolicy
		wantErr error
	}{
		{name: "pull", policy: corev1.PullIfNotPresent},
		{name: "present", present: true, pullErr: errors.New("unreachable"), policy: corev1.PullIfNotPresent},
		{name: "never, missing", policy: corev1.PullNever, wantErr: runtime.ErrImageNeverPull},
		{name: "never, present", present: true, policy: corev1.PullNever},
		{name: "always, pull fails", present: true, pullErr: errors.New("unreachable"), policy: corev1.PullAlways, wantErr: runtime.ErrImagePull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFake()
			if tt.present {
				if _, err := f.EnsureImage(context.Background(), "busybox:1.36", corev1.PullIfNotPresent, nil); err != nil {
					t.Fatal(err)
				}
			}
			f.SetPullError("busybox:1.36", tt.pullErr)
			ref, err := f.EnsureImage(context.Background(), "busybox:1.36", tt.policy, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("EnsureImage(%s) = %v; want %v", tt.policy, err, tt.wantErr)
			}
			if err == nil && ref.Name != "docker.io/library/busybox:1.36" {
				t.Errorf("EnsureImage() = %+v; want the normalised name", ref)
			}
		})
	}
}

func TestImportImage(t *testing.T) {
	var buf bytes.Buffer
	if err := testimage.Build(&buf, testimage.Options{}); err != nil {
		t.Skipf("cannot build the test image: %v", err)
	}
	f := NewFake()
	names, err := f.ImportImage(context.Background(), &buf)
	if err != nil || len(names) != 1 || names[0] != testimage.DefaultName {
		t.Fatalf("ImportImage() = %v, %v; want [%s]", names, err, testimage.DefaultName)
	}
	if _, err := f.EnsureImage(context.Background(), testimage.DefaultName, corev1.PullNever, nil); err != nil {
		t.Errorf("EnsureImage(imported, Never) = %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	defer f.Close()
	sb, err := f.RunSandbox(ctx, runtime.SandboxConfig{UID: "u1", Name: "p", Namespace: "default"})
	if err != nil || sb.State != runtime.SandboxReady || len(sb.IPs) != 1 {
		t.Fatalf("RunSandbox() = %+v, %v", sb, err)
	}
	if again, _ := f.RunSandbox(ctx, runtime.SandboxConfig{UID: "u1"}); again.IPs[0] != sb.IPs[0] {
		t.Errorf("RunSandbox(again) IP = %s; want %s", again.IPs[0], sb.IPs[0])
	}
	ref, _ := f.EnsureImage(ctx, "busybox", corev1.PullIfNotPresent, nil)
	cfg := runtime.ContainerConfig{Name: "c", Image: ref, Labels: map[string]string{"hash": "1"}}

	tests := []struct {
		name      string
		act       func(id string) error
		wantState runtime.ContainerState
		wantCode  int32
		wantOOM   bool
		wantEvent []runtime.EventType
	}{
		{name: "exit 0", act: func(id string) error { return f.Exit(id, 0) }, wantState: runtime.ContainerExited, wantEvent: []runtime.EventType{runtime.EventContainerExited}},
		{name: "stop with grace", act: func(id string) error { return f.StopContainer(ctx, id, time.Second) }, wantState: runtime.ContainerExited, wantCode: 143, wantEvent: []runtime.EventType{runtime.EventContainerExited}},
		{name: "oom", act: func(id string) error { return f.OOMKill(id) }, wantState: runtime.ContainerExited, wantCode: 137, wantOOM: true,
			wantEvent: []runtime.EventType{runtime.EventContainerOOM, runtime.EventContainerExited}},
		{name: "stop sandbox", act: func(string) error { return nil }, wantState: runtime.ContainerRunning},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg.Attempt = uint32(i)
			id, err := f.CreateContainer(ctx, sb, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if id != runtime.ContainerID("u1", "c", uint32(i)) {
				t.Errorf("CreateContainer() = %s; want the deterministic ID", id)
			}
			if _, err := f.CreateContainer(ctx, sb, cfg); !errors.Is(err, runtime.ErrAlreadyExists) {
				t.Errorf("CreateContainer(again) = %v; want %v", err, runtime.ErrAlreadyExists)
			}
			if err := f.StartContainer(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := tt.act(id); err != nil {
				t.Fatal(err)
			}
			st, err := f.ContainerStatus(ctx, id)
			if err != nil || st.State != tt.wantState || st.ExitCode != tt.wantCode || st.OOMKilled != tt.wantOOM || st.Labels["hash"] != "1" {
				t.Errorf("ContainerStatus() = %+v, %v; want state %s, code %d, OOM %v", st, err, tt.wantState, tt.wantCode, tt.wantOOM)
			}
			for _, want := range tt.wantEvent {
				select {
				case ev := <-f.Events():
					if ev.Type != want || ev.ContainerID != id || ev.PodUID != "u1" {
						t.Errorf("event = %+v; want %s for %s", ev, want, id)
					}
				default:
					t.Errorf("no %s event", want)
				}
			}
		})
	}
	if err := f.StopSandbox(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.ListContainers(ctx, runtime.ContainerFilter{PodUID: "u1"})
	for _, c := range cs {
		if c.State != runtime.ContainerExited {
			t.Errorf("%s after StopSandbox: %s; want Exited", c.ID, c.State)
		}
	}
	if sbs, _ := f.ListSandboxes(ctx); len(sbs) != 0 {
		t.Errorf("ListSandboxes() = %v after StopSandbox; want none", sbs)
	}
}

func TestHostPortConflict(t *testing.T) {
	f := NewFake()
	pm := []runtime.PortMapping{{ContainerPort: 80, HostPort: 8080}}
	if _, err := f.RunSandbox(context.Background(), runtime.SandboxConfig{UID: "a", PortMappings: pm}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RunSandbox(context.Background(), runtime.SandboxConfig{UID: "b", PortMappings: pm}); !errors.Is(err, runtime.ErrHostPortInUse) {
		t.Errorf("RunSandbox(same host port) = %v; want %v", err, runtime.ErrHostPortInUse)
	}
}

func TestInjectError(t *testing.T) {
	f := NewFake()
	boom := errors.New("boom")
	f.InjectError("RunSandbox", boom)
	if _, err := f.RunSandbox(context.Background(), runtime.SandboxConfig{UID: "u"}); err != boom {
		t.Errorf("RunSandbox() = %v; want the injected error", err)
	}
	if _, err := f.RunSandbox(context.Background(), runtime.SandboxConfig{UID: "u"}); err != nil {
		t.Errorf("RunSandbox() = %v; want nil once the injected error is used", err)
	}
	if got, want := strings.Join(f.Calls(), ","), "RunSandbox u,RunSandbox u"; got != want {
		t.Errorf("Calls() = %q; want %q", got, want)
	}
}

func TestLogs(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	sb, _ := f.RunSandbox(ctx, runtime.SandboxConfig{UID: "u"})
	id, _ := f.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c"})
	f.StartContainer(ctx, id)
	for _, l := range []string{"a", "b", "c"} {
		f.WriteLog(id, false, l)
	}
	two := int64(2)
	tests := []struct {
		name string
		opts runtime.LogOptions
		want string
	}{
		{name: "all", want: "a\nb\nc\n"},
		{name: "tail", opts: runtime.LogOptions{TailLines: &two}, want: "b\nc\n"},
		{name: "limit", opts: runtime.LogOptions{LimitBytes: 3}, want: "a\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.Logs(ctx, id, tt.opts, &b); err != nil || b.String() != tt.want {
				t.Errorf("Logs(%+v) = %q, %v; want %q", tt.opts, b.String(), err, tt.want)
			}
		})
	}
	t.Run("follow", func(t *testing.T) {
		var b bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- f.Logs(ctx, id, runtime.LogOptions{Follow: true}, &b) }()
		f.WriteLog(id, true, "d")
		f.Exit(id, 0)
		if err := <-done; err != nil || b.String() != "a\nb\nc\nd\n" {
			t.Errorf("Logs(follow) = %q, %v; want %q", b.String(), err, "a\nb\nc\nd\n")
		}
	})
}
