package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// masqueradeChain returns the nat chain that masquerades the pods of network n: one per
// bridge, so that several agents on one host keep theirs apart (iptables chain names are at
// most 28 characters; bridge names at most 15).
func masqueradeChain(n NetworkConfig) string { return "CAPSTAN-MASQ-" + n.Bridge }

// masqueradeRules returns the iptables-restore input that (re)writes the chain of n: traffic
// from the pod subnet to anywhere but the subnet itself and multicast leaves with the node's
// address, as the bridge plugin's per-pod chains did.
func masqueradeRules(n NetworkConfig) (string, error) {
	_, ipn, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return "", fmt.Errorf("runtime: network subnet %q: %v", n.Subnet, err)
	}
	chain := masqueradeChain(n)
	comment := fmt.Sprintf("capstan pod network %s", n.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "*nat\n:%s - [0:0]\n", chain) // declaring the chain creates or flushes it
	fmt.Fprintf(&b, "-A %s ! -s %s -j RETURN\n", chain, ipn)
	fmt.Fprintf(&b, "-A %s -d %s -j RETURN\n", chain, ipn)
	fmt.Fprintf(&b, "-A %s -d 224.0.0.0/4 -j RETURN\n", chain)
	fmt.Fprintf(&b, "-A %s -m comment --comment %q -j MASQUERADE\n", chain, comment)
	b.WriteString("COMMIT\n")
	return b.String(), nil
}

// masqueradeSubnet installs the node's masquerading for network n: its chain, rewritten at
// every start (the subnet may have changed), and a jump to it from POSTROUTING, added once.
// Pods attached by older agents keep their per-pod chains until they are deleted.
func masqueradeSubnet(ctx context.Context, n NetworkConfig) error {
	rules, err := masqueradeRules(n)
	if err != nil {
		return err
	}
	if err := run(ctx, rules, "iptables-restore", "--noflush", "--wait"); err != nil {
		return fmt.Errorf("runtime: write the masquerade chain of %s: %w", n.Bridge, err)
	}
	jump := func(op string) []string {
		return []string{"--wait", "-t", "nat", op, "POSTROUTING", "-j", masqueradeChain(n)}
	}
	if err := run(ctx, "", "iptables", jump("-C")...); err == nil {
		return nil
	}
	if err := run(ctx, "", "iptables", jump("-A")...); err != nil {
		return fmt.Errorf("runtime: jump to the masquerade chain of %s: %w", n.Bridge, err)
	}
	return nil
}

// run runs a command with stdin and returns its error with its output.
func run(ctx context.Context, stdin, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
