package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// needBusybox skips tests when busybox-static is not installed.
func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(DefaultBusybox); err != nil {
		t.Skipf("skipping: %s missing (apt-get install -y busybox-static)", DefaultBusybox)
	}
}

// readTar returns the regular files and symlinks of a tarball.
func readTar(t *testing.T, r io.Reader) (files map[string][]byte, links map[string]string, modes map[string]int64) {
	t.Helper()
	files, links, modes = map[string][]byte{}, map[string]string{}, map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		case tar.TypeSymlink:
			links[h.Name] = h.Linkname
		}
	}
}

func TestBuild(t *testing.T) {
	needBusybox(t)
	var a, b bytes.Buffer
	opts := Options{Files: []File{{Path: "/etc/motd", Data: []byte("hi\n")}}, StopSignal: "SIGQUIT"}
	if err := Build(&a, opts); err != nil {
		t.Fatal(err)
	}
	if err := Build(&b, opts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("Build() is not deterministic")
	}
	files, _, _ := readTar(t, &a)
	for name, data := range files {
		if d, ok := bytes.CutPrefix([]byte(name), []byte("blobs/sha256/")); ok && digest.FromBytes(data).Encoded() != string(d) {
			t.Errorf("blob %s has digest %s", name, digest.FromBytes(data))
		}
	}
	var index ocispec.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json = %s, %v; want one manifest", files["index.json"], err)
	}
	if got := index.Manifests[0].Annotations["io.containerd.image.name"]; got != DefaultName {
		t.Errorf("image name annotation = %q; want %q", got, DefaultName)
	}
	var m ocispec.Manifest
	json.Unmarshal(files["blobs/sha256/"+index.Manifests[0].Digest.Encoded()], &m)
	var cfg ocispec.Image
	json.Unmarshal(files["blobs/sha256/"+m.Config.Digest.Encoded()], &cfg)
	if cfg.Config.StopSignal != "SIGQUIT" || len(cfg.Config.Cmd) != 1 || cfg.Config.Cmd[0] != "sh" || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config = %+v; want stop signal SIGQUIT, cmd sh, one layer", cfg)
	}

	zr, err := gzip.NewReader(bytes.NewReader(files["blobs/sha256/"+m.Layers[0].Digest.Encoded()]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(raw) != cfg.RootFS.DiffIDs[0] {
		t.Errorf("layer diff ID = %s; want %s", digest.FromBytes(raw), cfg.RootFS.DiffIDs[0])
	}
	lfiles, links, modes := readTar(t, bytes.NewReader(raw))
	tests := []struct {
		name  string
		check func() bool
	}{
		{"busybox", func() bool { return len(lfiles["bin/busybox"]) > 0 && modes["bin/busybox"] == 0o755 }},
		{"sh", func() bool { return links["bin/sh"] == "busybox" }},
		{"wget", func() bool { return links["bin/wget"] == "busybox" }},
		{"httpd", func() bool { return links["bin/httpd"] == "busybox" }},
		{"timeout", func() bool { return links["bin/timeout"] == "busybox" }},
		{"env", func() bool { return links["usr/bin/env"] == "/bin/busybox" }},
		{"passwd", func() bool { return bytes.HasPrefix(lfiles["etc/passwd"], []byte("root:x:0:0:")) }},
		{"group", func() bool { return bytes.Contains(lfiles["etc/group"], []byte("nobody:x:65534:")) }},
		{"tmp", func() bool { return modes["tmp/"] == 0o1777 }},
		{"index.html", func() bool { return string(lfiles["var/www/index.html"]) == IndexHTML }},
		{"extra file", func() bool { return string(lfiles["etc/motd"]) == "hi\n" }},
	}
	for _, tt := range tests {
		if !tt.check() {
			t.Errorf("layer: %s missing or wrong", tt.name)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "no busybox", opts: Options{Busybox: "/nonexistent/busybox"}},
		{name: "relative file", opts: Options{Applets: []string{"sh"}, Files: []File{{Path: "etc/x"}}}},
		{name: "missing source", opts: Options{Applets: []string{"sh"}, Files: []File{{Path: "/x", Source: "/nonexistent"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Busybox == "" {
				needBusybox(t)
			}
			if err := Build(io.Discard, tt.opts); err == nil {
				t.Errorf("Build(%+v) = nil; want an error", tt.opts)
			}
		})
	}
}

// recorder is an Importer that keeps what it gets.
type recorder struct{ got []byte }

func (r *recorder) ImportImage(ctx context.Context, rd io.Reader) ([]string, error) {
	b, err := io.ReadAll(rd)
	r.got = b
	return []string{DefaultName}, err
}

func TestImport(t *testing.T) {
	needBusybox(t)
	var r recorder
	names, err := Import(context.Background(), &r, Options{})
	if err != nil || len(names) != 1 || len(r.got) == 0 {
		t.Errorf("Import() = %v, %v with %d bytes; want the image", names, err, len(r.got))
	}
}

func TestBuildWebserver(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: compiles a program")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipping: no go command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildWebserver(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(ctx, bin, "-listen", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ok\n" {
				t.Errorf("GET /healthz = %q; want %q", b, "ok\n")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webserver does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
