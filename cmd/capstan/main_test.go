package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantStdout: "Commands:", wantStderr: "needs a subcommand"},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStdout: "bench"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "capstan "},
		{name: "version rejects arguments", args: []string{"version", "x"}, wantCode: 2, wantStderr: `unexpected argument "x"`},
		{name: "unknown flag", args: []string{"bench", "store", "--nope"}, wantCode: 2, wantStderr: "unknown flag: --nope"},
		{name: "bad output", args: []string{"bench", "store", "-o", "xml"}, wantCode: 2, wantStderr: `--output "xml" must be table or json`},
		{name: "bad log store", args: []string{"bench", "store", "--raft-log-store", "rocks"}, wantCode: 2, wantStderr: `--raft-log-store "rocks"`},
		{name: "bad writers", args: []string{"bench", "store", "--writers", "0"}, wantCode: 2, wantStderr: "concurrency 0 must be positive"},
		{name: "flag help", args: []string{"bench", "store", "--help"}, wantCode: 0, wantStdout: "--raft-log-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d; want %d (stderr %q)", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q; want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q; want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}
