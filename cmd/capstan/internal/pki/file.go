package pki

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces the file at path with data, so that readers see either the old
// or the whole new content: it writes a temporary file in the same directory, sets mode on
// it (exactly, whatever the umask), syncs it, renames it over path and syncs the directory.
// The directory must exist. mode may hold permission bits only. A symbolic link at path is
// replaced, not followed. If an error occurs before the rename, the temporary file is removed
// and path is unchanged; if only the final directory sync fails, the new content is in place
// but may not survive a crash.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	if mode&^fs.ModePerm != 0 {
		return fmt.Errorf("pki: write %s: mode %v has bits other than permissions: %w", path, mode, fs.ErrInvalid)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("pki: write %q: no file name: %w", path, fs.ErrInvalid)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil && !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("pki: write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("pki: write %s: close: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	renamed = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("pki: sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("pki: sync directory %s: %w", dir, err)
	}
	return nil
}
