package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cniPlugins are the CNI plugins the generated network configuration uses.
var cniPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// hostCheck is one requirement: a binary found by lookup, or else the Debian package providing it.
type hostCheck struct {
	what    string
	pkg     string
	present func() bool
}

// hostChecks lists what CheckHost looks for, with Debian 12's package names.
func hostChecks() []hostCheck {
	bin := func(name string) func() bool {
		return func() bool { _, err := exec.LookPath(name); return err == nil }
	}
	cni := func(name string) func() bool {
		return func() bool {
			for _, dir := range DefaultConfig().Network.PluginDirs {
				if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode()&0o111 != 0 {
					return true
				}
			}
			return false
		}
	}
	checks := []hostCheck{
		{what: "containerd", pkg: "containerd", present: bin("containerd")},
		{what: "containerd-shim-runc-v2", pkg: "containerd", present: bin("containerd-shim-runc-v2")},
		{what: "runc", pkg: "runc", present: bin("runc")},
		{what: "iptables (used by the portmap plugin)", pkg: "iptables", present: bin("iptables")},
	}
	for _, p := range cniPlugins {
		checks = append(checks, hostCheck{what: "CNI plugin " + p, pkg: "containernetworking-plugins", present: cni(p)})
	}
	return checks
}

// CheckHost reports what this host lacks to run containers: Debian packages (with the exact
// apt-get command that installs them), root privileges, overlayfs and cgroups. The error matches
// ErrHostNotReady; nil means the host is ready.
func CheckHost() error {
	return checkHost(hostChecks())
}

// checkHost runs checks and the host-wide checks.
func checkHost(checks []hostCheck) error {
	var missing []string
	seen := map[string]bool{}
	var problems []error
	for _, c := range checks {
		if c.present() {
			continue
		}
		problems = append(problems, fmt.Errorf("%s is missing", c.what))
		if !seen[c.pkg] {
			seen[c.pkg] = true
			missing = append(missing, c.pkg)
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Errorf("install the missing packages with: apt-get install -y %s", strings.Join(missing, " ")))
	}
	if os.Geteuid() != 0 {
		problems = append(problems, errors.New("the node agent must run as root"))
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err == nil && !bytes.Contains(fs, []byte("\toverlay\n")) {
		problems = append(problems, errors.New("the kernel has no overlay filesystem (modprobe overlay)"))
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
			problems = append(problems, errors.New("no cgroup hierarchy is mounted at /sys/fs/cgroup"))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrHostNotReady, errors.Join(problems...))
}
