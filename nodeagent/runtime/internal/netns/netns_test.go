package netns

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestNewDoRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	dir := t.TempDir()
	path, err := New(dir, "pod1")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { Remove(path) })
	if !Exists(path) {
		t.Fatalf("Exists(%s) = false after New", path)
	}
	if _, err := New(dir, "pod1"); err == nil {
		t.Errorf("New(existing) succeeded; want error")
	}
	// A new namespace has only a loopback device, and it is down.
	var ifaces []net.Interface
	if err := Do(path, func() error {
		var err error
		ifaces, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if len(ifaces) != 1 || ifaces[0].Name != "lo" {
		t.Errorf("interfaces in new namespace = %v; want only lo", ifaces)
	}
	if err := Remove(path); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if Exists(path) {
		t.Errorf("Exists(%s) = true after Remove", path)
	}
	if err := Remove(path); err != nil {
		t.Errorf("second Remove = %v; want nil", err)
	}
	if err := Do(filepath.Join(dir, "none"), func() error { return nil }); err == nil {
		t.Errorf("Do(missing) = nil; want error")
	}
}
