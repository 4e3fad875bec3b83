package agent_test

import (
	"fmt"

	"github.com/capstan-io/capstan/nodeagent/agent"
)

// ExampleConfig shows the configuration of `capstan agent` and how Validate names a bad value.
func ExampleConfig() {
	cfg := agent.DefaultConfig()
	cfg.Name, cfg.DataDir, cfg.Advertise = "n1", "/var/lib/capstan/agent", "10.0.0.21"
	cfg.Servers = []string{"https://10.0.0.1:6443"}
	fmt.Println(cfg.Validate())
	cfg.KubeletPort = 99999
	fmt.Println(cfg.Validate())
	// Output:
	// <nil>
	// kubelet port 99999 is out of range 0-65535
}
