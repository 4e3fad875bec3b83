package pods

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

func TestVolumes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ClusterDNS = []string{"10.96.0.10"} })
	ctx := context.Background()
	e.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data: map[string]string{"app.conf": "a=1", "other": "x"}}, metav1.CreateOptions{})
	e.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "default"},
		Data: map[string][]byte{"token": []byte("t0k3n")}}, metav1.CreateOptions{})
	hostDir := filepath.Join(t.TempDir(), "created")
	dirOrCreate, mode := corev1.HostPathDirectoryOrCreate, int32(0o600)
	pod := simplePod("p", "c")
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db", "db.local"}}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirOrCreate}}},
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}}},
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: &mode}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "cache", MountPath: "/cache"}, {Name: "host", MountPath: "/host", ReadOnly: true}, {Name: "config", MountPath: "/etc/app"},
		{Name: "secret", MountPath: "/var/run/secret"}, {Name: "info", MountPath: "/etc/podinfo"},
	}
	pod = e.create(pod)
	got := e.waitPod(pod, "running", isRunning("c", 0))
	vols := filepath.Join(e.m.podDir(string(pod.UID)), "volumes")

	files := []struct {
		path, want string
		mode       os.FileMode
	}{
		{path: filepath.Join(vols, configMapPlugin, "config", "conf", "app.conf"), want: "a=1", mode: 0o644},
		{path: filepath.Join(vols, secretPlugin, "secret", "token"), want: "t0k3n", mode: 0o600},
		{path: filepath.Join(vols, downwardPlugin, "info", "labels"), want: `app="web"`, mode: 0o644},
	}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil || string(b) != f.want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", f.path, b, err, f.want)
			continue
		}
		if fi, _ := os.Stat(f.path); fi.Mode().Perm() != f.mode {
			t.Errorf("mode of %s = %v; want %v", f.path, fi.Mode().Perm(), f.mode)
		}
	}
	if _, err := os.Stat(filepath.Join(vols, configMapPlugin, "config", "other")); !os.IsNotExist(err) {
		t.Errorf("configMap key outside items was written: %v", err)
	}
	if fi, err := os.Stat(hostDir); err != nil || !fi.IsDir() {
		t.Errorf("hostPath DirectoryOrCreate did not create %s: %v", hostDir, err)
	}

	cfg := e.config(pod, "c", 0)
	mounts := map[string]runtime.Mount{}
	for _, m := range cfg.Mounts {
		mounts[m.ContainerPath] = m
	}
	wantMounts := map[string]string{
		"/cache": filepath.Join(vols, emptyDirPlugin, "cache"), "/host": hostDir, "/etc/app": filepath.Join(vols, configMapPlugin, "config"),
		"/etc/hosts": filepath.Join(e.m.podDir(string(pod.UID)), "etc-hosts"), "/etc/resolv.conf": filepath.Join(e.m.podDir(string(pod.UID)), "resolv.conf"),
	}
	for target, src := range wantMounts {
		if mounts[target].HostPath != src {
			t.Errorf("mount %s = %+v; want from %s", target, mounts[target], src)
		}
	}
	if !mounts["/host"].ReadOnly {
		t.Error("read-only volume mount is writable")
	}

	hosts, _ := os.ReadFile(wantMounts["/etc/hosts"])
	for _, want := range []string{"127.0.0.1\tlocalhost", got.Status.PodIP + "\tp\n", "10.1.2.3\tdb\tdb.local"} {
		if !strings.Contains(string(hosts), want) {
			t.Errorf("/etc/hosts = %q; want it to contain %q", hosts, want)
		}
	}
	resolv, _ := os.ReadFile(wantMounts["/etc/resolv.conf"])
	if want := "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local example.com\noptions ndots:5\n"; string(resolv) != want {
		t.Errorf("resolv.conf = %q; want %q", resolv, want)
	}

	// A changed configMap reaches the volume after the refresh period.
	cm, _ := e.client.CoreV1().ConfigMaps("default").Get(ctx, "cfg", metav1.GetOptions{})
	cm.Data["app.conf"] = "a=2"
	e.client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
	waitFor(t, "the configMap volume to be refreshed", func() bool {
		e.step(e.cfg.ConfigRefreshPeriod)
		b, _ := os.ReadFile(files[0].path)
		return string(b) == "a=2"
	})
}

func TestVolumeErrors(t *testing.T) {
	e := newEnv(t, nil)
	missing := corev1.HostPathDirectory
	pod := simplePod("p", "c")
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}},
		{Name: "dir", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/nonexistent/capstan", Type: &missing}}},
	}
	pod = e.create(pod)
	got := e.waitPod(pod, "ContainerCreating", isWaiting("c", waitingContainerCreating))
	waitFor(t, "a FailedMount event", func() bool { return e.rec.has("FailedMount", `volume "cfg"`, `volume "dir"`) })
	if got.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s; want Pending", got.Status.Phase)
	}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name    string
		path    string
		typ     corev1.HostPathType
		wantErr bool
	}{
		{name: "unset", path: "/nonexistent", typ: corev1.HostPathUnset},
		{name: "directory", path: dir, typ: corev1.HostPathDirectory},
		{name: "directory is a file", path: file, typ: corev1.HostPathDirectory, wantErr: true},
		{name: "directory missing", path: filepath.Join(dir, "x"), typ: corev1.HostPathDirectory, wantErr: true},
		{name: "file", path: file, typ: corev1.HostPathFile},
		{name: "file is a directory", path: dir, typ: corev1.HostPathFile, wantErr: true},
		{name: "file or create", path: filepath.Join(dir, "sub", "new"), typ: corev1.HostPathFileOrCreate},
		{name: "directory or create", path: filepath.Join(dir, "newdir"), typ: corev1.HostPathDirectoryOrCreate},
		{name: "socket", path: file, typ: corev1.HostPathSocket, wantErr: true},
		{name: "char device", path: "/dev/null", typ: corev1.HostPathCharDev},
		{name: "block device", path: "/dev/null", typ: corev1.HostPathBlockDev, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			err := checkHostPath(&corev1.HostPathVolumeSource{Path: tt.path, Type: &typ})
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrHostPathType)) {
				t.Errorf("checkHostPath(%s, %s) = %v; want error %t", tt.path, tt.typ, err, tt.wantErr)
			}
		})
	}
}

func TestResolvConf(t *testing.T) {
	ndots := "2"
	tests := []struct {
		name       string
		clusterDNS []string
		policy     corev1.DNSPolicy
		dnsConfig  *corev1.PodDNSConfig
		want       string
	}{
		{name: "ClusterFirst", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirst,
			want: "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local example.com\noptions ndots:5\n"},
		{name: "ClusterFirst without cluster DNS", policy: corev1.DNSClusterFirst,
			want: "nameserver 192.0.2.53\nsearch example.com\noptions timeout:2\n"},
		{name: "Default", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSDefault,
			want: "nameserver 192.0.2.53\nsearch example.com\noptions timeout:2\n"},
		{name: "None with dnsConfig", policy: corev1.DNSNone,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.b"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}}},
			want:      "nameserver 1.1.1.1\nsearch a.b\noptions ndots:2\n"},
		{name: "ClusterFirst with dnsConfig options", clusterDNS: []string{"10.96.0.10"}, policy: corev1.DNSClusterFirst,
			dnsConfig: &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}, {Name: "edns0"}}},
			want:      "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local example.com\noptions ndots:2 edns0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ClusterDNS = tt.clusterDNS })
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: corev1.PodSpec{DNSPolicy: tt.policy, DNSConfig: tt.dnsConfig}}
			path, err := e.m.writeResolvConf(pod)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.want {
				t.Errorf("resolv.conf = %q; want %q", b, tt.want)
			}
		})
	}
}
