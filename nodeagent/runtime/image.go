package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// NormalizeImage returns the canonical form of an image reference as Kubernetes users write it:
// "busybox" becomes "docker.io/library/busybox:latest". The error matches ErrInvalidImageName.
func NormalizeImage(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidImageName, image, err)
	}
	return named.String(), nil
}

// pullPolicy returns the effective policy: an empty one defaults as the API server does, to
// Always for a :latest or untagged image and IfNotPresent otherwise.
func pullPolicy(image string, policy corev1.PullPolicy) corev1.PullPolicy {
	if policy != "" {
		return policy
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err == nil {
		if _, digested := named.(reference.Digested); digested {
			return corev1.PullIfNotPresent
		}
		if t, ok := named.(reference.Tagged); ok && t.Tag() != "latest" {
			return corev1.PullIfNotPresent
		}
	}
	return corev1.PullAlways
}

// EnsureImage implements Runtime. A pull error is wrapped in ErrImagePull with the registry's
// message; for Always, a failed pull is an error even when an older copy is present, as in the
// kubelet.
func (r *Containerd) EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy, auth []RegistryAuth) (ImageRef, error) {
	name, err := NormalizeImage(image)
	if err != nil {
		return ImageRef{}, err
	}
	policy = pullPolicy(image, policy)
	switch policy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return ImageRef{}, fmt.Errorf("runtime: unknown pull policy %q", policy)
	}
	ctx = r.nsctx(ctx)
	if policy != corev1.PullAlways {
		img, err := r.client.GetImage(ctx, name)
		switch {
		case err == nil:
			return r.unpacked(ctx, img)
		case !errdefs.IsNotFound(err):
			return ImageRef{}, translate(err, "image "+name)
		case policy == corev1.PullNever:
			return ImageRef{}, fmt.Errorf("%w: %s", ErrImageNeverPull, name)
		}
	}
	img, err := r.client.Pull(ctx, name,
		containerd.WithResolver(resolver(auth)),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(r.cfg.Snapshotter))
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return ImageRef{}, err
		}
		return ImageRef{}, fmt.Errorf("%w: %s: %v", ErrImagePull, name, err)
	}
	return r.unpacked(ctx, img)
}

// unpacked unpacks img for the snapshotter if needed and returns its reference.
func (r *Containerd) unpacked(ctx context.Context, img containerd.Image) (ImageRef, error) {
	ok, err := img.IsUnpacked(ctx, r.cfg.Snapshotter)
	if err != nil {
		return ImageRef{}, translate(err, "image "+img.Name())
	}
	if !ok {
		if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
			return ImageRef{}, translate(err, "unpack image "+img.Name())
		}
	}
	cfg, err := img.Config(ctx)
	if err != nil {
		return ImageRef{}, translate(err, "image "+img.Name())
	}
	return ImageRef{Name: img.Name(), Digest: img.Target().Digest.String(), ID: cfg.Digest.String()}, nil
}

// ImportImage implements Runtime.
func (r *Containerd) ImportImage(ctx context.Context, rd io.Reader) ([]string, error) {
	ctx = r.nsctx(ctx)
	imgs, err := r.client.Import(ctx, rd)
	if err != nil {
		return nil, translate(err, "import images")
	}
	var names []string
	for _, i := range imgs {
		if _, err := r.unpacked(ctx, containerd.NewImage(r.client, i)); err != nil {
			return nil, err
		}
		names = append(names, i.Name)
	}
	return names, nil
}

// resolver returns a registry resolver that answers credential challenges from auth and talks
// plain HTTP to localhost registries.
func resolver(auth []RegistryAuth) remotes.Resolver {
	creds := func(host string) (string, string, error) {
		for _, a := range auth {
			if sameRegistry(a.Host, host) {
				if a.IdentityToken != "" {
					return "", a.IdentityToken, nil
				}
				return a.Username, a.Password, nil
			}
		}
		return "", "", nil
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(creds))),
		docker.WithPlainHTTP(docker.MatchLocalhost),
	)})
}

// registryHost reduces a registry key as found in docker config files ("https://index.docker.io/v1/",
// "registry:5000") to a host, mapping Docker Hub's aliases to one name.
func registryHost(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return s
}

// sameRegistry reports whether two registry keys name the same host.
func sameRegistry(a, b string) bool { return registryHost(a) == registryHost(b) }

// ParseDockerConfig reads the credentials of an image pull secret: the data of a
// kubernetes.io/dockerconfigjson secret ({"auths": {...}}) or of a kubernetes.io/dockercfg one.
func ParseDockerConfig(data []byte) ([]RegistryAuth, error) {
	type entry struct {
		Username      string `json:"username"`
		Password      string `json:"password"`
		Auth          string `json:"auth"`
		IdentityToken string `json:"identitytoken"`
	}
	var cfg struct {
		Auths map[string]entry `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("runtime: docker config: %v", err)
	}
	if cfg.Auths == nil {
		if err := json.Unmarshal(data, &cfg.Auths); err != nil {
			return nil, fmt.Errorf("runtime: docker config: %v", err)
		}
	}
	var out []RegistryAuth
	for host, e := range cfg.Auths {
		a := RegistryAuth{Host: registryHost(host), Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
		if e.Auth != "" {
			b, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("runtime: docker config: auth of %s: %v", host, err)
			}
			user, pass, ok := strings.Cut(string(b), ":")
			if !ok {
				return nil, fmt.Errorf("runtime: docker config: auth of %s is not user:password", host)
			}
			a.Username, a.Password = user, pass
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}
