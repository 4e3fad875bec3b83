package pods

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Volume directories under a pod's directory, named like the kubelet's plugins.
const (
	emptyDirPlugin  = "kubernetes.io~empty-dir"
	configMapPlugin = "kubernetes.io~configmap"
	secretPlugin    = "kubernetes.io~secret"
	downwardPlugin  = "kubernetes.io~downward-api"
	projectedPlugin = "kubernetes.io~projected"
)

// podDir returns the pod's directory.
func (m *Manager) podDir(uid string) string { return filepath.Join(m.cfg.RootDir, "pods", uid) }

// volumes maps a pod's volume names to host paths.
type volumes map[string]string

// setupVolumes creates or refreshes every volume of the pod and returns their host paths. With
// refresh false, configMap, secret, downward API and projected volumes that exist already are
// left as they are.
func (m *Manager) setupVolumes(ctx context.Context, pod *corev1.Pod, ec *envContext, refresh bool) (volumes, error) {
	base := filepath.Join(m.podDir(string(pod.UID)), "volumes")
	out := volumes{}
	var errs []error
	for _, v := range pod.Spec.Volumes {
		path, err := m.setupVolume(ctx, base, pod, ec, v, refresh)
		if err != nil {
			errs = append(errs, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err))
			continue
		}
		out[v.Name] = path
	}
	return out, errors.Join(errs...)
}

func (m *Manager) setupVolume(ctx context.Context, base string, pod *corev1.Pod, ec *envContext, v corev1.Volume, refresh bool) (string, error) {
	switch {
	case v.EmptyDir != nil:
		// Medium Memory is a plain directory too: the agent mounts no tmpfs.
		dir := filepath.Join(base, emptyDirPlugin, v.Name)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", err
		}
		return dir, os.Chmod(dir, 0o777)
	case v.HostPath != nil:
		return v.HostPath.Path, checkHostPath(v.HostPath)
	}
	var dir string
	var payload func() (map[string]file, error)
	switch {
	case v.ConfigMap != nil:
		dir = filepath.Join(base, configMapPlugin, v.Name)
		payload = func() (map[string]file, error) {
			return configMapPayload(ctx, ec, v.ConfigMap.LocalObjectReference.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode))
		}
	case v.Secret != nil:
		dir = filepath.Join(base, secretPlugin, v.Name)
		payload = func() (map[string]file, error) {
			return secretPayload(ctx, ec, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode))
		}
	case v.DownwardAPI != nil:
		dir = filepath.Join(base, downwardPlugin, v.Name)
		payload = func() (map[string]file, error) {
			return downwardPayload(ec, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
		}
	case v.Projected != nil:
		dir = filepath.Join(base, projectedPlugin, v.Name)
		payload = func() (map[string]file, error) { return projectedPayload(ctx, ec, v.Projected) }
	default:
		return "", fmt.Errorf("%w: volume %q", ErrUnsupportedVolume, v.Name)
	}
	if !refresh {
		if _, err := os.Lstat(filepath.Join(dir, "..data")); err == nil {
			return dir, nil
		}
	}
	files, err := payload()
	if err != nil {
		return "", err
	}
	return dir, writeAtomic(dir, files)
}

// mode returns a volume's default file mode, 0644 when unset.
func mode(m *int32) fs.FileMode {
	if m == nil {
		return 0o644
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// checkHostPath applies the hostPath volume's type check, creating what the type asks for.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, statErr := os.Stat(h.Path)
	bad := func(what string) error { return fmt.Errorf("%w: %s is not %s", ErrHostPathType, h.Path, what) }
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if statErr != nil {
			return os.MkdirAll(h.Path, 0o755)
		}
		if !fi.IsDir() {
			return bad("a directory")
		}
	case corev1.HostPathDirectory:
		if statErr != nil || !fi.IsDir() {
			return bad("a directory")
		}
	case corev1.HostPathFileOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if !fi.Mode().IsRegular() {
			return bad("a file")
		}
	case corev1.HostPathFile:
		if statErr != nil || !fi.Mode().IsRegular() {
			return bad("a file")
		}
	case corev1.HostPathSocket:
		if statErr != nil || fi.Mode()&fs.ModeSocket == 0 {
			return bad("a socket")
		}
	case corev1.HostPathCharDev:
		if statErr != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			return bad("a character device")
		}
	case corev1.HostPathBlockDev:
		if statErr != nil || fi.Mode()&fs.ModeDevice == 0 || fi.Mode()&fs.ModeCharDevice != 0 {
			return bad("a block device")
		}
	default:
		return fmt.Errorf("%w: unknown type %q", ErrHostPathType, t)
	}
	return nil
}

// file is one file of a configMap, secret, downward API or projected volume.
type file struct {
	data []byte
	mode fs.FileMode
}

// keyFiles turns data into files: every key, or only items (failing on a missing key unless
// the source is optional).
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, opt bool, def fs.FileMode, what string) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{data: v, mode: def}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, fmt.Errorf("%w: key %q in %s", ErrConfigNotFound, it.Key, what)
		}
		m := def
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out[it.Path] = file{data: v, mode: m}
	}
	return out, nil
}

func configMapPayload(ctx context.Context, ec *envContext, name string, items []corev1.KeyToPath, opt *bool, def fs.FileMode) (map[string]file, error) {
	cm, err := ec.configs.configMap(ctx, name)
	if err != nil {
		return nil, err
	}
	if cm == nil {
		if optional(opt) {
			return map[string]file{}, nil
		}
		return nil, fmt.Errorf("%w: configmap %q", ErrConfigNotFound, name)
	}
	data := map[string][]byte{}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return keyFiles(data, items, optional(opt), def, fmt.Sprintf("configmap %q", name))
}

func secretPayload(ctx context.Context, ec *envContext, name string, items []corev1.KeyToPath, opt *bool, def fs.FileMode) (map[string]file, error) {
	s, err := ec.configs.secret(ctx, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		if optional(opt) {
			return map[string]file{}, nil
		}
		return nil, fmt.Errorf("%w: secret %q", ErrConfigNotFound, name)
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return keyFiles(data, items, optional(opt), def, fmt.Sprintf("secret %q", name))
}

func downwardPayload(ec *envContext, items []corev1.DownwardAPIVolumeFile, def fs.FileMode) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(ec, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			c := findContainer(&ec.pod.Spec, it.ResourceFieldRef.ContainerName)
			if c == nil {
				err = fmt.Errorf("%w: resourceFieldRef names unknown container %q", ErrInvalidEnv, it.ResourceFieldRef.ContainerName)
			} else {
				v, err = containerResource(ec, c, it.ResourceFieldRef)
			}
		}
		if err != nil {
			return nil, err
		}
		m := def
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode) & fs.ModePerm
		}
		out[it.Path] = file{data: []byte(v), mode: m}
	}
	return out, nil
}

// projectedPayload merges the sources of a projected volume. Service account tokens are not
// issued: a serviceAccountToken source writes no file.
func projectedPayload(ctx context.Context, ec *envContext, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	def := mode(p.DefaultMode)
	out := map[string]file{}
	for _, src := range p.Sources {
		var files map[string]file
		var err error
		switch {
		case src.ConfigMap != nil:
			files, err = configMapPayload(ctx, ec, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def)
		case src.Secret != nil:
			files, err = secretPayload(ctx, ec, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def)
		case src.DownwardAPI != nil:
			files, err = downwardPayload(ec, src.DownwardAPI.Items, def)
		}
		if err != nil {
			return nil, err
		}
		for k, v := range files {
			out[k] = v
		}
	}
	return out, nil
}

// writeAtomic publishes files in dir the way the kubelet's atomic writer does, so that a
// container sees either the old or the new set: the files go to a new hidden directory, the
// ..data symlink is switched to it with a rename, and every top-level name is a symlink through
// ..data. Nothing is written when the content is unchanged.
func writeAtomic(dir string, files map[string]file) error {
	for p := range files {
		clean := filepath.Clean(p)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("invalid path %q in volume", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dataLink := filepath.Join(dir, "..data")
	old, _ := os.Readlink(dataLink)
	if old != "" && sameFiles(filepath.Join(dir, old), files) {
		return nil
	}
	tsDir, err := os.MkdirTemp(dir, "..data_")
	if err != nil {
		return err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		path := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(path, f.mode); err != nil {
			return err
		}
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		return err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.Split(filepath.ToSlash(filepath.Clean(p)), "/")[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", name) {
			continue
		}
		os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "..data" || name == filepath.Base(tsDir):
		case strings.HasPrefix(name, ".."):
			os.RemoveAll(filepath.Join(dir, name))
		case !top[name]:
			os.RemoveAll(filepath.Join(dir, name))
		}
	}
	return nil
}

// sameFiles reports whether dir holds exactly files.
func sameFiles(dir string, files map[string]file) bool {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f, ok := files[rel]
		if !ok {
			return fs.ErrNotExist
		}
		fi, err := d.Info()
		if err != nil || fi.Mode().Perm() != f.mode {
			return fs.ErrNotExist
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, f.data) {
			return fs.ErrNotExist
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}

// writeHosts writes the pod's /etc/hosts as the kubelet does and returns its path.
func (m *Manager) writeHosts(pod *corev1.Pod, podIPs []string) (string, error) {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := hostname(pod)
	for _, ip := range podIPs {
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, host, pod.Spec.Subdomain, pod.Namespace, m.cfg.ClusterDomain, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, host)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	path := filepath.Join(m.podDir(string(pod.UID)), "etc-hosts")
	return path, writeFileAtomic(path, []byte(b.String()))
}

// hostname is the pod's host name: spec.hostname or the pod's name, at most 63 characters.
func hostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// resolver is a parsed resolv.conf.
type resolver struct {
	nameservers, searches, options []string
}

func parseResolvConf(b []byte) resolver {
	var r resolver
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				r.nameservers = append(r.nameservers, f[1])
			}
		case "search", "domain":
			r.searches = f[1:]
		case "options":
			r.options = append(r.options, f[1:]...)
		}
	}
	return r
}

// writeResolvConf writes the pod's /etc/resolv.conf for its dnsPolicy and dnsConfig and returns
// its path.
func (m *Manager) writeResolvConf(pod *corev1.Pod) (string, error) {
	var r resolver
	policy := pod.Spec.DNSPolicy
	if policy == corev1.DNSClusterFirstWithHostNet {
		policy = corev1.DNSClusterFirst // no host network: same as ClusterFirst
	}
	host := func() error {
		b, err := os.ReadFile(m.cfg.ResolvConf)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r = parseResolvConf(b)
		return nil
	}
	switch {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSDefault, len(m.cfg.ClusterDNS) == 0:
		if err := host(); err != nil {
			return "", err
		}
	default:
		if err := host(); err != nil {
			return "", err
		}
		d := m.cfg.ClusterDomain
		r.nameservers = append([]string(nil), m.cfg.ClusterDNS...)
		r.searches = append([]string{pod.Namespace + ".svc." + d, "svc." + d, d}, r.searches...)
		r.options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		r.nameservers = append(r.nameservers, dc.Nameservers...)
		r.searches = append(r.searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			r.options = mergeOption(r.options, o.Name, opt)
		}
	}
	r.nameservers = dedupe(r.nameservers)
	if len(r.nameservers) > 3 {
		r.nameservers = r.nameservers[:3]
	}
	r.searches = dedupe(r.searches)
	if len(r.searches) > 32 {
		r.searches = r.searches[:32]
	}
	var b strings.Builder
	for _, ns := range r.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(r.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(r.searches, " "))
	}
	if len(r.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(r.options, " "))
	}
	path := filepath.Join(m.podDir(string(pod.UID)), "resolv.conf")
	return path, writeFileAtomic(path, []byte(b.String()))
}

// mergeOption replaces the option called name in opts by opt, or appends it.
func mergeOption(opts []string, name, opt string) []string {
	for i, o := range opts {
		if n, _, _ := strings.Cut(o, ":"); n == name {
			opts[i] = opt
			return opts
		}
	}
	return append(opts, opt)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// writeFileAtomic writes path: a new file is created with a rename; an existing one is rewritten
// in place (only when its content changes), because containers bind-mount the file's inode.
func writeFileAtomic(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil {
		if bytes.Equal(old, data) {
			return nil
		}
		// Containers bind-mount the file itself: rewrite the same inode so they see the change.
		return os.WriteFile(path, data, 0o644)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// containerMounts returns the bind mounts of c: its volumeMounts, then /etc/hosts and
// /etc/resolv.conf unless it mounts something there itself.
func containerMounts(c *corev1.Container, vols volumes, hostsPath, resolvPath string) ([]runtime.Mount, error) {
	var out []runtime.Mount
	targets := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		src, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %s is not set up", vm.Name, vm.MountPath)
		}
		if vm.SubPath != "" {
			sub := filepath.Clean(vm.SubPath)
			if filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, "../") {
				return nil, fmt.Errorf("subPath %q must be a relative path inside the volume", vm.SubPath)
			}
			src = filepath.Join(src, sub)
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, runtime.Mount{HostPath: src, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly})
		targets[filepath.Clean(vm.MountPath)] = true
	}
	if !targets["/etc/hosts"] && hostsPath != "" {
		out = append(out, runtime.Mount{HostPath: hostsPath, ContainerPath: "/etc/hosts"})
	}
	if !targets["/etc/resolv.conf"] && resolvPath != "" {
		out = append(out, runtime.Mount{HostPath: resolvPath, ContainerPath: "/etc/resolv.conf"})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].ContainerPath) < len(out[j].ContainerPath) })
	return out, nil
}
