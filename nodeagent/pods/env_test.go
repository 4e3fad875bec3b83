package pods

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/runtime/runtimetest"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "hello", want: "hello"},
		{name: "reference", in: "$(A)-$(B)", want: "alpha-beta"},
		{name: "escaped", in: "$$(A)", want: "$(A)"},
		{name: "double dollar", in: "a$$b", want: "a$b"},
		{name: "unknown", in: "$(C)", want: "$(C)"},
		{name: "unterminated", in: "$(A", want: "$(A"},
		{name: "lone dollar", in: "$A $", want: "$A $"},
		{name: "empty name", in: "$()", want: "$()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expand(tt.in, lookup); got != tt.want {
				t.Errorf("expand(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolveEnv(t *testing.T) {
	yes := true
	client := fake.NewSimpleClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}, Data: map[string]string{"k": "cmv", "x": "1", "y": "2"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"pw": []byte("hunter2")}},
	)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{NodeName: testNode, ServiceAccountName: "sa", Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		}}}},
	}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	res := func(r, divisor string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: r}
		if divisor != "" {
			s.Divisor = resource.MustParse(divisor)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	cmKey := func(name, key string, opt bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &opt}}
	}
	secretKey := func(name, key string, opt bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &opt}}
	}
	tests := []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    []runtime.EnvVar
		wantErr error
	}{
		{name: "value with expansion", env: []corev1.EnvVar{{Name: "A", Value: "x"}, {Name: "B", Value: "$(A)-$(Z)"}},
			want: []runtime.EnvVar{{Name: "A", Value: "x"}, {Name: "B", Value: "x-$(Z)"}}},
		{name: "metadata.name", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("metadata.name")}}, want: []runtime.EnvVar{{Name: "V", Value: "p"}}},
		{name: "metadata.namespace", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("metadata.namespace")}}, want: []runtime.EnvVar{{Name: "V", Value: "ns"}}},
		{name: "metadata.uid", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("metadata.uid")}}, want: []runtime.EnvVar{{Name: "V", Value: "u1"}}},
		{name: "label", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("metadata.labels['app']")}}, want: []runtime.EnvVar{{Name: "V", Value: "web"}}},
		{name: "annotations", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("metadata.annotations")}}, want: []runtime.EnvVar{{Name: "V", Value: `a="b"`}}},
		{name: "spec.nodeName", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("spec.nodeName")}}, want: []runtime.EnvVar{{Name: "V", Value: testNode}}},
		{name: "serviceAccountName", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("spec.serviceAccountName")}}, want: []runtime.EnvVar{{Name: "V", Value: "sa"}}},
		{name: "status.podIP", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("status.podIP")}}, want: []runtime.EnvVar{{Name: "V", Value: "10.244.0.5"}}},
		{name: "status.hostIP", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("status.hostIP")}}, want: []runtime.EnvVar{{Name: "V", Value: "192.168.1.10"}}},
		{name: "bad fieldPath", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("spec.bogus")}}, wantErr: ErrInvalidEnv},
		{name: "limits.cpu in millicores", env: []corev1.EnvVar{{Name: "V", ValueFrom: res("limits.cpu", "1m")}}, want: []runtime.EnvVar{{Name: "V", Value: "500"}}},
		{name: "limits.cpu rounds up", env: []corev1.EnvVar{{Name: "V", ValueFrom: res("limits.cpu", "")}}, want: []runtime.EnvVar{{Name: "V", Value: "1"}}},
		{name: "limits.memory in Mi", env: []corev1.EnvVar{{Name: "V", ValueFrom: res("limits.memory", "1Mi")}}, want: []runtime.EnvVar{{Name: "V", Value: "64"}}},
		{name: "requests.cpu", env: []corev1.EnvVar{{Name: "V", ValueFrom: res("requests.cpu", "1m")}}, want: []runtime.EnvVar{{Name: "V", Value: "250"}}},
		{name: "configMapKeyRef", env: []corev1.EnvVar{{Name: "V", ValueFrom: cmKey("cm", "k", false)}}, want: []runtime.EnvVar{{Name: "V", Value: "cmv"}}},
		{name: "configMapKeyRef missing key", env: []corev1.EnvVar{{Name: "V", ValueFrom: cmKey("cm", "nope", false)}}, wantErr: ErrConfigNotFound},
		{name: "configMapKeyRef optional missing", env: []corev1.EnvVar{{Name: "V", ValueFrom: cmKey("gone", "k", true)}}, want: nil},
		{name: "configMapKeyRef missing map", env: []corev1.EnvVar{{Name: "V", ValueFrom: cmKey("gone", "k", false)}}, wantErr: ErrConfigNotFound},
		{name: "secretKeyRef", env: []corev1.EnvVar{{Name: "V", ValueFrom: secretKey("s", "pw", false)}}, want: []runtime.EnvVar{{Name: "V", Value: "hunter2"}}},
		{name: "secretKeyRef optional missing key", env: []corev1.EnvVar{{Name: "V", ValueFrom: secretKey("s", "nope", true)}}, want: nil},
		{name: "envFrom with prefix, env overrides",
			envFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
			env:  []corev1.EnvVar{{Name: "CM_x", Value: "override $(pw)"}},
			want: []runtime.EnvVar{{Name: "CM_k", Value: "cmv"}, {Name: "CM_x", Value: "override hunter2"}, {Name: "CM_y", Value: "2"}, {Name: "pw", Value: "hunter2"}}},
		{name: "envFrom optional missing", envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: &yes}}}},
		{name: "envFrom missing", envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}, wantErr: ErrConfigNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tt.env, tt.envFrom
			ec := &envContext{pod: pod, podIPs: []string{"10.244.0.5"}, hostIPs: []string{"192.168.1.10"}, configs: newConfigCache(client, "ns")}
			got, err := resolveEnv(context.Background(), ec, &c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("resolveEnv() error = %v; want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("resolveEnv() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerConfig(t *testing.T) {
	e := newEnv(t, nil)
	uid, gid, podUID := int64(1000), int64(2000), int64(3000)
	pod := simplePod("p", "c")
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &podUID, RunAsGroup: &gid}
	c := &pod.Spec.Containers[0]
	c.Command = []string{"sh", "-c"}
	c.Args = []string{"echo $(GREETING) $$(HOME) $(MISSING)"}
	c.Env = []corev1.EnvVar{{Name: "GREETING", Value: "hi"}, {Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	c.WorkingDir = "/work"
	c.TTY, c.Stdin = true, true
	c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
	c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}
	pod = e.create(pod)
	got := e.waitPod(pod, "running", isRunning("c", 0))
	cfg := e.config(pod, "c", 0)
	if diff := cmp.Diff([]string{"echo hi $(HOME) $(MISSING)"}, cfg.Args); diff != "" {
		t.Errorf("args mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]runtime.EnvVar{{Name: "GREETING", Value: "hi"}, {Name: "IP", Value: got.Status.PodIP}}, cfg.Env); diff != "" {
		t.Errorf("env mismatch (-want +got):\n%s", diff)
	}
	if cfg.WorkingDir != "/work" || !cfg.TTY || !cfg.Stdin || cfg.Hostname != "p" || *cfg.RunAsUser != uid || *cfg.RunAsGroup != gid {
		t.Errorf("config = %+v; want workingDir /work, tty, stdin, hostname p, user %d group %d", cfg, uid, gid)
	}
	if want := (runtime.Resources{CPURequestMillis: 1500, CPULimitMillis: 1500, MemoryLimitBytes: 128 << 20}); cfg.Resources != want {
		t.Errorf("resources = %+v; want %+v", cfg.Resources, want)
	}
	if want := runtime.LogPath(e.cfg.LogDir, "default", "p", string(pod.UID), "c", 0); cfg.LogPath != want {
		t.Errorf("log path = %q; want %q", cfg.LogPath, want)
	}
}

func TestConfigErrorBecomesWaitingReason(t *testing.T) {
	e := newEnv(t, nil)
	pod := simplePod("p", "c")
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Key: "k"}}}}
	pod = e.create(pod)
	got := e.waitPod(pod, "CreateContainerConfigError", isWaiting("c", waitingConfigError))
	if msg := containerStatus(got, "c").State.Waiting.Message; msg == "" {
		t.Error("waiting message is empty")
	}
	e.client.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	e.waitPodStepping(pod, "running", retryInterval, isRunning("c", 0))
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.NodeName, c.Runtime, c.Client = "n", runtimetest.NewFake(), fake.NewSimpleClientset()
		return c
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{name: "valid", mutate: func(c *Config) {}, ok: true},
		{name: "no runtime", mutate: func(c *Config) { c.Runtime = nil }},
		{name: "no node name", mutate: func(c *Config) { c.NodeName = "" }},
		{name: "relative root", mutate: func(c *Config) { c.RootDir = "pods" }},
		{name: "bad node IP", mutate: func(c *Config) { c.NodeIPs = []string{"nope"} }},
		{name: "bad cluster DNS", mutate: func(c *Config) { c.ClusterDNS = []string{"10.96.0.300"} }},
		{name: "backoff max below base", mutate: func(c *Config) { c.BackoffMax = time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v; want ok=%t", err, tt.ok)
			}
		})
	}
	c := DefaultConfig()
	if err := c.Validate(); err == nil {
		t.Error("Validate(DefaultConfig()) = nil; want NodeName, Runtime and Client required")
	}
}
