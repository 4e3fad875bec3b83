package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/capstan-io/capstan/nodeagent/runtime/internal/netns"
)

// sandboxRecord is a sandbox as recorded in <StateDir>/sandboxes/<uid>.json. It is written before
// CNI ADD (Complete false) so that a crash during set-up leaves enough to tear it down.
type sandboxRecord struct {
	UID          string        `json:"uid"`
	Name         string        `json:"name"`
	Namespace    string        `json:"namespace"`
	NetNSPath    string        `json:"netnsPath"`
	IPs          []string      `json:"ips,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	// Network is the pod network variant the sandbox was attached with (networkPlain...).
	Network   string    `json:"network,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	Complete  bool      `json:"complete"`
}

// sandbox returns the record as a Sandbox, checking that its namespace still exists.
func (rec *sandboxRecord) sandbox() *Sandbox {
	sb := &Sandbox{
		UID: rec.UID, Name: rec.Name, Namespace: rec.Namespace, NetNSPath: rec.NetNSPath,
		IPs: append([]string(nil), rec.IPs...), PortMappings: append([]PortMapping(nil), rec.PortMappings...),
		CreatedAt: rec.CreatedAt, State: SandboxNotReady,
	}
	if rec.Complete && netns.Exists(rec.NetNSPath) {
		sb.State = SandboxReady
	}
	return sb
}

// validUID reports whether uid can name files and cgroups.
func validUID(uid string) error {
	if uid == "" || len(uid) > 128 || strings.ContainsAny(uid, "/\\ \t\n") || uid == "." || uid == ".." {
		return fmt.Errorf("runtime: invalid pod UID %q", uid)
	}
	return nil
}

// RunSandbox implements Runtime.
func (r *Containerd) RunSandbox(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	if err := validUID(cfg.UID); err != nil {
		return nil, err
	}
	if err := validatePortMappings(cfg.PortMappings); err != nil {
		return nil, err
	}
	unlock := r.locks.lock("pod/" + cfg.UID)
	defer unlock()

	old, err := r.loadSandbox(cfg.UID)
	switch {
	case err == nil:
		if sb := old.sandbox(); sb.State == SandboxReady {
			return sb, nil
		}
		// Set-up did not finish, or the namespace vanished with a reboot: start over.
		if err := r.teardownNetwork(ctx, old); err != nil {
			return nil, err
		}
		if err := netns.Remove(old.NetNSPath); err != nil {
			return nil, err
		}
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}

	// Host ports are checked and claimed (by the record) under one lock across pods.
	unlockPorts := r.locks.lock("hostports")
	portsLocked := true
	defer func() {
		if portsLocked {
			unlockPorts()
		}
	}()
	if err := r.checkHostPorts(ctx, cfg.UID, cfg.PortMappings); err != nil {
		return nil, err
	}
	nsPath := filepath.Join(r.cfg.NetNSDir, cfg.UID)
	if err := netns.Remove(nsPath); err != nil { // a leftover file from a crash
		return nil, err
	}
	if nsPath, err = netns.New(r.cfg.NetNSDir, cfg.UID); err != nil {
		return nil, fmt.Errorf("runtime: create the network namespace of pod %s: %w", cfg.UID, err)
	}
	rec := &sandboxRecord{
		UID: cfg.UID, Name: cfg.Name, Namespace: cfg.Namespace, NetNSPath: nsPath,
		PortMappings: append([]PortMapping(nil), cfg.PortMappings...), Network: variant(cfg.PortMappings), CreatedAt: time.Now().UTC(),
	}
	if err := r.saveSandbox(rec); err != nil {
		netns.Remove(nsPath)
		return nil, err
	}
	unlockPorts()
	portsLocked = false
	ips, err := r.setupNetwork(ctx, rec)
	if err != nil {
		// Undo with a context of our own: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if terr := r.teardownNetwork(cctx, rec); terr == nil {
			netns.Remove(nsPath)
			os.Remove(r.sandboxPath(cfg.UID))
		}
		return nil, err
	}
	rec.IPs, rec.Complete = ips, true
	if err := r.saveSandbox(rec); err != nil {
		return nil, err
	}
	return rec.sandbox(), nil
}

// StopSandbox implements Runtime.
func (r *Containerd) StopSandbox(ctx context.Context, podUID string) error {
	if err := validUID(podUID); err != nil {
		return err
	}
	unlock := r.locks.lock("pod/" + podUID)
	defer unlock()

	cs, err := r.ListContainers(ctx, ContainerFilter{PodUID: podUID})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State == ContainerRunning {
			if err := r.StopContainer(ctx, c.ID, 0); err != nil {
				return err
			}
		}
	}
	rec, err := r.loadSandbox(podUID)
	switch {
	case err == nil:
		if err := r.teardownNetwork(ctx, rec); err != nil {
			return err
		}
		if err := netns.Remove(rec.NetNSPath); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if err := removeCgroup(r.podCgroup(podUID)); err != nil {
		return err
	}
	if err := os.Remove(r.sandboxPath(podUID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ListSandboxes implements Runtime.
func (r *Containerd) ListSandboxes(ctx context.Context) ([]*Sandbox, error) {
	entries, err := os.ReadDir(r.sandboxDir())
	if err != nil {
		return nil, err
	}
	var out []*Sandbox
	for _, e := range entries {
		uid, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := r.loadSandbox(uid)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, rec.sandbox())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// podCgroup returns the cgroup that holds the pod's containers.
func (r *Containerd) podCgroup(podUID string) string {
	return path.Join(r.cfg.CgroupParent, "pod"+podUID)
}

func (r *Containerd) sandboxPath(uid string) string {
	return filepath.Join(r.sandboxDir(), uid+".json")
}

// loadSandbox reads a sandbox record; a missing one is ErrNotFound.
func (r *Containerd) loadSandbox(uid string) (*sandboxRecord, error) {
	b, err := os.ReadFile(r.sandboxPath(uid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: sandbox of pod %s", ErrNotFound, uid)
	}
	if err != nil {
		return nil, err
	}
	var rec sandboxRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("runtime: sandbox record %s: %v", r.sandboxPath(uid), err)
	}
	return &rec, nil
}

// saveSandbox writes a sandbox record atomically and durably.
func (r *Containerd) saveSandbox(rec *sandboxRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(r.sandboxPath(rec.UID), b)
}

// writeFileAtomic replaces path with data through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
