// Package firewall is the chaos suite's root-only network fault layer (RELIABILITY.md §4, Tier
// B): nftables rules that drop the traffic of chosen ports, for faults the TCP proxy cannot
// make, such as partitioning the UDP and TCP liveness gossip.
//
// It refuses to touch the host's firewall: rules go into a table of their own, and only in a
// network namespace other than the one PID 1 lives in. `capstan chaos run --netns` starts the
// run in a fresh namespace for this (see cmd/capstan/chaos.go).
package firewall
