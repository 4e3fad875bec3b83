package pki

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomicModes(t *testing.T) {
	tests := []struct {
		name     string
		existing bool
		mode     os.FileMode
	}{
		{name: "new private file", mode: 0o600},
		{name: "new public file", mode: 0o644},
		{name: "new group-writable file ignores umask", mode: 0o664},
		{name: "new read-only file", mode: 0o400},
		{name: "replace with tighter mode", existing: true, mode: 0o600},
		{name: "replace with looser mode", existing: true, mode: 0o644},
		{name: "replace read-only file", existing: true, mode: 0o400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secret.key")
			if tt.existing {
				if err := os.WriteFile(path, []byte("old content that is longer"), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFileAtomic(path, []byte("new"), tt.mode); err != nil {
				t.Fatalf("WriteFileAtomic(%v) = %v", tt.mode, err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode() != tt.mode {
				t.Errorf("mode after WriteFileAtomic(%v) = %v; want %v", tt.mode, st.Mode(), tt.mode)
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != "new" {
				t.Errorf("content = %q, %v; want %q", got, err, "new")
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("directory holds %v; want only secret.key (no temporary files)", names)
			}
		})
	}
}

func TestWriteFileAtomicErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		mode os.FileMode
		want error
	}{
		{name: "missing directory", path: filepath.Join(dir, "missing", "f"), mode: 0o600, want: fs.ErrNotExist},
		{name: "non-permission mode bits", path: filepath.Join(dir, "f"), mode: fs.ModeSetuid | 0o600, want: fs.ErrInvalid},
		{name: "directory mode", path: filepath.Join(dir, "f"), mode: fs.ModeDir | 0o700, want: fs.ErrInvalid},
		{name: "no file name", path: dir + string(filepath.Separator), mode: 0o600, want: fs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := WriteFileAtomic(tt.path, []byte("x"), tt.mode); !errors.Is(err, tt.want) {
				t.Errorf("WriteFileAtomic(%q, %v) = %v; want %v", tt.path, tt.mode, err, tt.want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("failed writes left %d files behind", len(entries))
	}
}

func TestWriteFileAtomicRenameFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory at path makes the final rename fail after the temporary file is
	// complete.
	path := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(path, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFileAtomic over a non-empty directory = nil; want an error")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "target" {
		t.Errorf("directory after a failed rename holds %d entries; want only target", len(entries))
	}
}
