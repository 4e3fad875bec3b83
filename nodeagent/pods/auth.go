package pods

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// dockerConfig is the content of a kubernetes.io/dockerconfigjson secret (or, without the
// "auths" wrapper, of a kubernetes.io/dockercfg one).
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// pullAuth returns the registry credentials of the pod's image pull secrets. Missing secrets
// are skipped, as the kubelet does.
func (m *Manager) pullAuth(ctx context.Context, pod *corev1.Pod) ([]runtime.RegistryAuth, error) {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return nil, nil
	}
	cache := newConfigCache(m.cfg.Client, pod.Namespace)
	var out []runtime.RegistryAuth
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := cache.secret(ctx, ref.Name)
		if err != nil {
			return out, err
		}
		if s == nil {
			continue
		}
		var cfg dockerConfig
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
				return out, fmt.Errorf("secret %q: %w", ref.Name, err)
			}
		case corev1.SecretTypeDockercfg:
			if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg.Auths); err != nil {
				return out, fmt.Errorf("secret %q: %w", ref.Name, err)
			}
		default:
			continue
		}
		for server, a := range cfg.Auths {
			ra := runtime.RegistryAuth{Host: registryHost(server), Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
			if a.Auth != "" {
				if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					ra.Username, ra.Password, _ = strings.Cut(string(b), ":")
				}
			}
			out = append(out, ra)
		}
	}
	return out, nil
}

// registryHost reduces a docker config key ("https://index.docker.io/v1/", "registry:5000") to
// a host.
func registryHost(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		server = u.Host
	}
	server, _, _ = strings.Cut(server, "/")
	if server == "index.docker.io" || server == "registry-1.docker.io" {
		return "docker.io"
	}
	return server
}
