package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/capstan-io/capstan/chaos/fault"
)

// tmpfsSize is the size of the small data directory of the disk-full master: room for its
// store, far below what the run's host disk has. raft-wal writes 64 MiB segments and keeps them
// until a snapshot truncates the log, so the master needs several segments of room to keep up
// with the others before the fault fills the disk (128 MiB left it stuck behind on wal).
const tmpfsSize = "512m"

// tmpfsDisk is a master's data directory on a tmpfs mount.
type tmpfsDisk struct {
	master    string
	dir       string
	unmounted bool
}

var _ fault.Disk = (*tmpfsDisk)(nil)

// mountTmpfs mounts a small tmpfs on dir (root only).
func mountTmpfs(master, dir string) (*tmpfsDisk, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: mounting a tmpfs data directory needs root", fault.ErrUnsupported)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+tmpfsSize+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: mount tmpfs on %s: %v: %s", fault.ErrUnsupported, dir, err, out)
	}
	return &tmpfsDisk{master: master, dir: dir}, nil
}

func (d *tmpfsDisk) Master() string { return d.master }

func (d *tmpfsDisk) ballast() string { return filepath.Join(d.dir, "chaos-ballast") }

// Fill writes a ballast file until the file system is full.
func (d *tmpfsDisk) Fill() error {
	f, err := os.OpenFile(d.ballast(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				// Take the last partial page too.
				for small := make([]byte, 512); ; {
					if _, err := f.Write(small); err != nil {
						return nil
					}
				}
			}
			return err
		}
	}
}

// Free removes the ballast.
func (d *tmpfsDisk) Free() error {
	if err := os.Remove(d.ballast()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// unmount detaches the tmpfs (lazily, in case a process still holds files). Calls after the
// first do nothing.
func (d *tmpfsDisk) unmount() error {
	if d.unmounted {
		return nil
	}
	d.unmounted = true
	if out, err := exec.Command("umount", "-l", d.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("umount %s: %v: %s", d.dir, err, out)
	}
	return nil
}
