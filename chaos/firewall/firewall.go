package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// PrivateNamespace reports whether this process runs in a network namespace other than PID
// 1's. Where PID 1's namespace cannot be read (a sandbox may hide it even from root), it
// compares with the parent process's instead: `capstan chaos run --netns` re-executes itself
// in a new namespace, so its parent stays in the host's. When neither can be read, the answer
// is false: the host's firewall is never touched on a guess.
func PrivateNamespace() bool {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return false
	}
	if init, err := os.Readlink("/proc/1/ns/net"); err == nil {
		return self != init
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", os.Getppid()))
	return err == nil && self != parent
}

// LoopbackUp brings the loopback interface of this (new) namespace up.
func LoopbackUp(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput()
	if err != nil {
		return fmt.Errorf("firewall: ip link set lo up: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Firewall is one nftables table of drop rules in a private namespace.
type Firewall struct {
	table string

	mu    sync.Mutex // protects ports
	ports map[int]bool
}

// New creates the table (inet family) with an input and an output chain. It fails with
// ErrHostNamespace in the host's namespace and ErrUnavailable without nft.
func New(ctx context.Context, table string) (*Firewall, error) {
	if !PrivateNamespace() {
		return nil, ErrHostNamespace
	}
	if _, err := exec.LookPath("nft"); err != nil || os.Geteuid() != 0 {
		return nil, ErrUnavailable
	}
	f := &Firewall{table: table, ports: map[int]bool{}}
	script := fmt.Sprintf("add table inet %[1]s\nadd chain inet %[1]s input { type filter hook input priority 0; }\nadd chain inet %[1]s output { type filter hook output priority 0; }\n", table)
	if err := nft(ctx, script); err != nil {
		return nil, err
	}
	return f, nil
}

// IsolatePorts drops every TCP and UDP packet to or from the ports, in both directions.
func (f *Firewall) IsolatePorts(ctx context.Context, ports ...int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, p := range ports {
		if f.ports[p] {
			continue
		}
		for _, chain := range []string{"input", "output"} {
			for _, proto := range []string{"tcp", "udp"} {
				fmt.Fprintf(&b, "add rule inet %s %s %s dport %d drop\n", f.table, chain, proto, p)
				fmt.Fprintf(&b, "add rule inet %s %s %s sport %d drop\n", f.table, chain, proto, p)
			}
		}
		f.ports[p] = true
	}
	if b.Len() == 0 {
		return nil
	}
	return nft(ctx, b.String())
}

// Flush removes every rule.
func (f *Firewall) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports = map[int]bool{}
	return nft(ctx, fmt.Sprintf("flush chain inet %[1]s input\nflush chain inet %[1]s output\n", f.table))
}

// Close deletes the table.
func (f *Firewall) Close(ctx context.Context) error {
	return nft(ctx, fmt.Sprintf("delete table inet %s\n", f.table))
}

// nft runs an nft script.
func nft(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("firewall: nft: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
