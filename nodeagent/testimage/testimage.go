package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	_ "crypto/sha256" // digest.FromBytes needs SHA-256 registered
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultName is the name of the default image: Debian 12's busybox-static is BusyBox 1.35.
const DefaultName = "capstan.local/busybox:1.35"

// DefaultBusybox is where Debian's busybox-static package installs the static binary.
const DefaultBusybox = "/bin/busybox"

// WebRoot is the directory of the image's index.html, for `httpd -f -p 80 -h /var/www`.
const WebRoot = "/var/www"

// IndexHTML is the content of WebRoot/index.html.
const IndexHTML = "capstan busybox test image\n"

// fixedTime stamps every file and the configuration, so that the same inputs give the same
// digests and importing an image twice is a no-op.
var fixedTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options describes the image Build makes. The zero value is the default image.
type Options struct {
	// Name is the image's full reference; empty means DefaultName.
	Name string
	// Busybox is the static busybox binary; empty means DefaultBusybox.
	Busybox string
	// Applets are the commands linked to busybox in /bin; empty means every applet the binary
	// lists (`busybox --list`).
	Applets []string
	// Files are added to the root filesystem (over the defaults when paths collide).
	Files []File
	// Entrypoint, Cmd, Env, WorkingDir and StopSignal are the image's configuration. Cmd defaults
	// to ["sh"], Env to a PATH, WorkingDir to "/".
	Entrypoint, Cmd, Env []string
	WorkingDir           string
	StopSignal           string
}

// File is a regular file of the image.
type File struct {
	// Path is the absolute path inside the image.
	Path string
	// Mode is the permission bits; zero means 0644.
	Mode fs.FileMode
	// Data is the content; when nil the content is read from Source.
	Data []byte
	// Source is a host file to copy when Data is nil.
	Source string
}

// Importer is what Import loads the image into: runtime.Runtime satisfies it.
type Importer interface {
	ImportImage(ctx context.Context, r io.Reader) ([]string, error)
}

// Import builds the image described by opts and imports it; it returns the imported names.
func Import(ctx context.Context, imp Importer, opts Options) ([]string, error) {
	var buf bytes.Buffer
	if err := Build(&buf, opts); err != nil {
		return nil, err
	}
	return imp.ImportImage(ctx, &buf)
}

// Build writes an OCI image layout tarball (oci-layout, index.json and blobs: one gzip layer, the
// configuration and the manifest) of a busybox root filesystem: /bin/busybox with applet links,
// /etc/passwd and /etc/group (root and nobody), /tmp, /root and WebRoot/index.html. The index
// annotates the manifest with the image name for containerd's importer. The output is
// deterministic.
func Build(w io.Writer, opts Options) error {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Busybox == "" {
		opts.Busybox = DefaultBusybox
	}
	tag := "latest"
	if i := strings.LastIndex(opts.Name, ":"); i > strings.LastIndex(opts.Name, "/") {
		tag = opts.Name[i+1:]
	}
	bb, err := os.ReadFile(opts.Busybox)
	if err != nil {
		return fmt.Errorf("testimage: busybox (apt-get install -y busybox-static): %w", err)
	}
	applets := opts.Applets
	if len(applets) == 0 {
		if applets, err = listApplets(opts.Busybox); err != nil {
			return err
		}
	}
	layer, diffID, err := buildLayer(bb, applets, opts.Files)
	if err != nil {
		return err
	}

	cfg := ocispec.Image{
		Created:  &fixedTime,
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config: ocispec.ImageConfig{
			Entrypoint: opts.Entrypoint,
			Cmd:        opts.Cmd,
			Env:        opts.Env,
			WorkingDir: opts.WorkingDir,
			StopSignal: opts.StopSignal,
		},
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []ocispec.History{{Created: &fixedTime, CreatedBy: "capstan testimage", Comment: "busybox"}},
	}
	if cfg.Config.Cmd == nil && cfg.Config.Entrypoint == nil {
		cfg.Config.Cmd = []string{"sh"}
	}
	if cfg.Config.Env == nil {
		cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	if cfg.Config.WorkingDir == "" {
		cfg.Config.WorkingDir = "/"
	}
	cfgBlob, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	layerDesc := descriptor(ocispec.MediaTypeImageLayerGzip, layer)
	cfgDesc := descriptor(ocispec.MediaTypeImageConfig, cfgBlob)
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	mdesc := descriptor(ocispec.MediaTypeImageManifest, manifest)
	mdesc.Platform = &cfg.Platform
	mdesc.Annotations = map[string]string{
		"io.containerd.image.name": opts.Name,
		ocispec.AnnotationRefName:  tag,
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{mdesc},
	})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, layout},
		{"blobs/sha256/" + layerDesc.Digest.Encoded(), layer},
		{"blobs/sha256/" + cfgDesc.Digest.Encoded(), cfgBlob},
		{"blobs/sha256/" + mdesc.Digest.Encoded(), manifest},
		{"index.json", index},
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: fixedTime}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := writeFile(tw, e.name, 0o644, e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// descriptor describes blob b.
func descriptor(mediaType string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// listApplets asks busybox for its applets.
func listApplets(bin string) ([]string, error) {
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("testimage: %s --list: %w", bin, err)
	}
	return strings.Fields(string(out)), nil
}

// buildLayer returns the gzip-compressed root filesystem layer and the digest of its tar form.
func buildLayer(bb []byte, applets []string, extra []File) ([]byte, digest.Digest, error) {
	files := map[string]File{
		"/bin/busybox":                   {Mode: 0o755, Data: bb},
		"/etc/passwd":                    {Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")},
		"/etc/group":                     {Data: []byte("root:x:0:\nnobody:x:65534:\n")},
		path.Join(WebRoot, "index.html"): {Data: []byte(IndexHTML)},
	}
	for _, f := range extra {
		if !path.IsAbs(f.Path) {
			return nil, "", fmt.Errorf("testimage: file path %q must be absolute", f.Path)
		}
		if f.Data == nil {
			b, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, "", fmt.Errorf("testimage: %w", err)
			}
			f.Data = b
		}
		files[path.Clean(f.Path)] = f
	}
	dirs := map[string]int64{
		"/bin": 0o755, "/dev": 0o755, "/etc": 0o755, "/home": 0o755, "/proc": 0o555, "/root": 0o700,
		"/sys": 0o555, "/tmp": 0o1777, "/usr": 0o755, "/usr/bin": 0o755, "/var": 0o755,
	}
	for p := range files {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	links := map[string]string{"/usr/bin/env": "/bin/busybox"}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if _, ok := files["/bin/"+a]; !ok {
			links["/bin/"+a] = "busybox"
		}
	}

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, d := range sortedKeys(dirs) {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: dirs[d], ModTime: fixedTime}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", err
		}
	}
	for _, p := range sortedKeys(files) {
		f := files[p]
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err := writeFile(tw, p[1:], int64(mode), f.Data); err != nil {
			return nil, "", err
		}
	}
	for _, l := range sortedKeys(links) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: l[1:], Linkname: links[l], Mode: 0o777, ModTime: fixedTime}); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID := digest.FromBytes(raw.Bytes())

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

// writeFile writes a regular file entry.
func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: fixedTime}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BuildWebserver compiles the test web server (internal/webserver) into dir and returns the
// binary's path, for a File at /bin/webserver. It runs `go build` and so needs the Go toolchain
// and a working directory inside the Capstan module: use it in tests only.
func BuildWebserver(ctx context.Context, dir string) (string, error) {
	out := path.Join(dir, "webserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, webserverPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.Join(fmt.Errorf("testimage: go build %s: %w", webserverPackage, err), errors.New(string(b)))
	}
	return out, nil
}

// webserverPackage is the import path of the test web server.
const webserverPackage = "github.com/capstan-io/capstan/nodeagent/testimage/internal/webserver"
