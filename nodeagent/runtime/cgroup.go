package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// unifiedCgroups reports whether the host runs cgroup v2 only.
func unifiedCgroups() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// removeCgroup removes the (empty) cgroup at path from every hierarchy. runc removes a
// container's own cgroup when its task is deleted but not the parents we ask for
// (RUNTIME.md §5). A cgroup that still has children or processes gives an error.
func removeCgroup(path string) error {
	if unifiedCgroups() {
		return rmdirCgroup(filepath.Join(cgroupRoot, path))
	}
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, rmdirCgroup(filepath.Join(cgroupRoot, e.Name(), path)))
		}
	}
	return errors.Join(errs...)
}

func rmdirCgroup(dir string) error {
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("runtime: remove cgroup %s: %w", dir, err)
	}
	return nil
}

// cgroupOOMKills returns the number of OOM kills the kernel recorded in the memory cgroup at
// path (oom_kill in memory.oom_control on cgroup v1, memory.events on v2); 0 when unknown.
// It must be read before the container's task is deleted, which removes the cgroup.
func cgroupOOMKills(path string) int64 {
	file := filepath.Join(cgroupRoot, "memory", path, "memory.oom_control")
	if unifiedCgroups() {
		file = filepath.Join(cgroupRoot, path, "memory.events")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	return parseOOMKills(b)
}

// parseOOMKills finds the "oom_kill N" line of a memory.oom_control or memory.events file.
func parseOOMKills(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if ok && string(k) == "oom_kill" {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}
