package agent

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.Name, c.DataDir, c.Advertise = "n1", "/var/lib/capstan/agent", "10.0.0.5"
		c.Servers = []string{"https://10.0.0.1:6443"}
		return c
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error; empty means valid
	}{
		{name: "defaults", modify: func(*Config) {}},
		{name: "hollow", modify: func(c *Config) { c.Hollow = 1000 }},
		{name: "bad name", modify: func(c *Config) { c.Name = "N_1" }, want: `name "N_1" is invalid`},
		{name: "relative data dir", modify: func(c *Config) { c.DataDir = "data" }, want: `data directory "data" must be an absolute path`},
		{name: "server not https", modify: func(c *Config) { c.Servers = []string{"http://m1:6443"} }, want: `server "http://m1:6443" is not an https:// URL`},
		{name: "advertise not an IP", modify: func(c *Config) { c.Advertise = "node1" }, want: `advertise address "node1" is not an IP`},
		{name: "advertise unspecified", modify: func(c *Config) { c.Advertise = "0.0.0.0" }, want: `advertise address "0.0.0.0" must be a reachable IP`},
		{name: "kubelet port", modify: func(c *Config) { c.KubeletPort = 70000 }, want: "kubelet port 70000 is out of range"},
		{name: "gossip port", modify: func(c *Config) { c.GossipPort = -1 }, want: "gossip port -1 is out of range"},
		{name: "containerd address", modify: func(c *Config) { c.ContainerdAddress = "run/c.sock" }, want: `containerd address "run/c.sock" must be an absolute`},
		{name: "max pods", modify: func(c *Config) { c.MaxPods = 0 }, want: "max pods 0 must be positive"},
		{name: "cluster dns", modify: func(c *Config) { c.ClusterDNS = []string{"dns"} }, want: `cluster DNS "dns" is not an IP`},
		{name: "status interval", modify: func(c *Config) { c.StatusInterval = 0 }, want: "status interval 0s is below 100ms"},
		{name: "report interval", modify: func(c *Config) { c.StatusReportInterval = 2 * time.Minute }},
		{name: "report interval negative", modify: func(c *Config) { c.StatusReportInterval = -time.Second }, want: "status report interval -1s must not be negative"},
		{name: "report interval below status interval", modify: func(c *Config) { c.StatusReportInterval = time.Second }, want: "status report interval 1s is below the status interval 10s"},
		{name: "hollow negative", modify: func(c *Config) { c.Hollow = -1 }, want: "hollow -1 must be between 0 and 10000"},
		{name: "hollow name too long", modify: func(c *Config) { c.Name, c.Hollow = strings.Repeat("a", 252), 10 }, want: "hollow node name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.MaxPods = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil; want errors")
	}
	for _, want := range []string{`name ""`, `advertise address ""`, "max pods 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to mention %q", err, want)
		}
	}
}

func TestConfigReportInterval(t *testing.T) {
	tests := []struct {
		name   string
		hollow int
		set    time.Duration
		want   time.Duration
	}{
		{name: "real node default", want: DefaultStatusReportInterval},
		{name: "hollow default", hollow: 1000, want: DefaultHollowStatusReportInterval},
		{name: "real node set", set: 30 * time.Second, want: 30 * time.Second},
		{name: "hollow set", hollow: 10, set: 30 * time.Second, want: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Hollow, c.StatusReportInterval = tt.hollow, tt.set
			if got := c.reportInterval(); got != tt.want {
				t.Errorf("reportInterval() = %s; want %s", got, tt.want)
			}
		})
	}
}
