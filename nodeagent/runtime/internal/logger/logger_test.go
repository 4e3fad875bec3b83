package logger

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		ok   bool
	}{
		{name: "logger", in: []string{pathArg, "/x.log", maxSizeArg, "10"}, ok: true},
		{name: "any order", in: []string{maxSizeArg, "10", pathArg, "/x.log"}, ok: true},
		{name: "subcommand", in: []string{"agent", "--kubeconfig", "x"}, ok: false},
		{name: "odd", in: []string{pathArg}, ok: false},
		{name: "none", in: nil, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := parseArgs(tt.in); ok != tt.ok {
				t.Errorf("parseArgs(%q) ok = %v; want %v", tt.in, ok, tt.ok)
			}
		})
	}
}

// TestShimStart starts this test binary the way a containerd shim starts the logger: the init
// function must take over before the tests run.
func TestShimStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr", "0.log")
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for k, v := range Args(path, 0) {
		argv = append(argv, k, v)
	}
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = []string{"CONTAINER_ID=c1", "CONTAINER_NAMESPACE=capstan"}
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outR.Close()
	errR.Close()
	readyW.Close()
	if _, err := io.ReadAll(readyR); err != nil {
		t.Fatalf("waiting for ready: %v", err)
	}
	io.WriteString(outW, "hello\nwor")
	io.WriteString(errW, "oops\n")
	outW.Close()
	errW.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logger exited with %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z`
	for _, want := range []string{ts + ` stdout F hello\n`, ts + ` stdout P wor\n`, ts + ` stderr F oops\n`} {
		if !regexp.MustCompile(want).Match(b) {
			t.Errorf("log file %q does not match %q", b, want)
		}
	}
}
