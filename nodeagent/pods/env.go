package pods

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// expand replaces every $(NAME) in s whose NAME lookup knows, as Kubernetes does for command,
// args and env values: $$ is an escaped $, an unknown $(NAME) is left as it is, and a $ that
// starts no reference is kept.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// configCache reads configMaps and secrets of one namespace once per sync.
type configCache struct {
	client     kubernetes.Interface
	namespace  string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func newConfigCache(client kubernetes.Interface, namespace string) *configCache {
	return &configCache{client: client, namespace: namespace, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

// configMap returns the named configMap, nil when it does not exist.
func (c *configCache) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := c.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := c.client.CoreV1().ConfigMaps(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %q: %w", name, err)
	}
	c.configMaps[name] = cm
	return cm, nil
}

// secret returns the named secret, nil when it does not exist.
func (c *configCache) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := c.secrets[name]; ok {
		return s, nil
	}
	s, err := c.client.CoreV1().Secrets(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %q: %w", name, err)
	}
	c.secrets[name] = s
	return s, nil
}

// envContext is what environment variables of a pod's containers can refer to.
type envContext struct {
	pod         *corev1.Pod
	podIPs      []string
	hostIPs     []string
	allocatable corev1.ResourceList
	configs     *configCache
}

// resolveEnv returns the container's environment as the kubelet builds it: envFrom sources
// first, then env in order, each value expanded with the variables defined before it.
func resolveEnv(ctx context.Context, ec *envContext, c *corev1.Container) ([]runtime.EnvVar, error) {
	var out []runtime.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, runtime.EnvVar{Name: name, Value: value})
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := ec.configs.configMap(ctx, from.ConfigMapRef.Name)
			if err != nil {
				return nil, err
			}
			if cm == nil {
				if optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("%w: configmap %q not found", ErrConfigNotFound, from.ConfigMapRef.Name)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := ec.configs.secret(ctx, from.SecretRef.Name)
			if err != nil {
				return nil, err
			}
			if s == nil {
				if optional(from.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("%w: secret %q not found", ErrConfigNotFound, from.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
			for k, v := range s.StringData {
				data[k] = v
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return "", false
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := resolveEnvSource(ctx, ec, c, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %q: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	return out, nil
}

// resolveEnvSource resolves a valueFrom; ok is false for a missing optional key.
func resolveEnvSource(ctx context.Context, ec *envContext, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := podField(ec, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := containerResource(ec, c, src.ResourceFieldRef)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := ec.configs.configMap(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%w: configmap %q not found", ErrConfigNotFound, ref.Name)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if v, ok := cm.BinaryData[ref.Key]; ok {
			return string(v), true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("%w: couldn't find key %s in ConfigMap %s/%s", ErrConfigNotFound, ref.Key, ec.pod.Namespace, ref.Name)
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := ec.configs.secret(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%w: secret %q not found", ErrConfigNotFound, ref.Name)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if v, ok := s.StringData[ref.Key]; ok {
			return v, true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("%w: couldn't find key %s in Secret %s/%s", ErrConfigNotFound, ref.Key, ec.pod.Namespace, ref.Name)
	}
	return "", false, fmt.Errorf("%w: no source set", ErrInvalidEnv)
}

// podField returns a downward API field of the pod.
func podField(ec *envContext, path string) (string, error) {
	pod := ec.pod
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return first(ec.podIPs), nil
	case "status.podIPs":
		return strings.Join(ec.podIPs, ","), nil
	case "status.hostIP":
		return first(ec.hostIPs), nil
	case "status.hostIPs":
		return strings.Join(ec.hostIPs, ","), nil
	}
	return "", fmt.Errorf("%w: unsupported fieldPath %q", ErrInvalidEnv, path)
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// formatMap renders labels or annotations as the downward API does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// containerResource returns a resourceFieldRef's value, divided by its divisor and rounded up;
// a limit that is not set is the node's allocatable amount.
func containerResource(ec *envContext, c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	if ref.ContainerName != "" {
		c = findContainer(&ec.pod.Spec, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("%w: resourceFieldRef names unknown container %q", ErrInvalidEnv, ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("%w: unsupported resource %q", ErrInvalidEnv, ref.Resource)
	}
	var q resource.Quantity
	var set bool
	switch kind {
	case "limits":
		q, set = c.Resources.Limits[corev1.ResourceName(name)]
		if !set {
			q = ec.allocatable[corev1.ResourceName(name)]
		}
	case "requests":
		q, set = c.Resources.Requests[corev1.ResourceName(name)]
		if !set && name != string(corev1.ResourceCPU) {
			q = ec.allocatable[corev1.ResourceName(name)]
		}
	default:
		return "", fmt.Errorf("%w: unsupported resource %q", ErrInvalidEnv, ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	switch corev1.ResourceName(name) {
	case corev1.ResourceCPU:
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
	}
	if strings.HasPrefix(name, "hugepages-") {
		return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
	}
	return "", fmt.Errorf("%w: unsupported resource %q", ErrInvalidEnv, ref.Resource)
}

func optional(b *bool) bool { return b != nil && *b }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// findContainer returns the init or app container called name.
func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == name {
			return &spec.InitContainers[i]
		}
	}
	return nil
}
