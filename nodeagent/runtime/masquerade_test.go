package runtime

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMasqueradeSubnet installs a network's masquerading twice on the host and checks that
// the chain holds the rules once and POSTROUTING jumps to it once.
func TestMasqueradeSubnet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: writing iptables rules needs root")
	}
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("skipping: iptables is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := DefaultConfig().Network
	n.Bridge, n.Subnet = "cap-masq-test", "10.253.7.0/24"
	chain := masqueradeChain(n)
	t.Cleanup(func() {
		_ = run(context.Background(), "", "iptables", "--wait", "-t", "nat", "-D", "POSTROUTING", "-j", chain)
		_ = run(context.Background(), "", "iptables", "--wait", "-t", "nat", "-F", chain)
		_ = run(context.Background(), "", "iptables", "--wait", "-t", "nat", "-X", chain)
	})
	for i := 0; i < 2; i++ {
		if err := masqueradeSubnet(ctx, n); err != nil {
			t.Fatalf("masqueradeSubnet #%d: %v", i+1, err)
		}
	}
	out, err := exec.CommandContext(ctx, "iptables", "--wait", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S: %v: %s", err, out)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		counts[line]++
	}
	for _, rule := range []string{
		"-A POSTROUTING -j " + chain,
		"-A " + chain + " ! -s 10.253.7.0/24 -j RETURN",
		"-A " + chain + " -d 10.253.7.0/24 -j RETURN",
		"-A " + chain + " -d 224.0.0.0/4 -j RETURN",
		"-A " + chain + ` -m comment --comment "capstan pod network capstan" -j MASQUERADE`,
	} {
		if counts[rule] != 1 {
			t.Errorf("rule %q appears %d times; want once", rule, counts[rule])
		}
	}
}
