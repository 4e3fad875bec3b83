// Package proxy is the chaos suite's network fault layer for masters on one machine: a TCP
// proxy in front of each master's Raft peer port, so that every peer connection passes
// through a proxy that can blackhole it or delay it, per link.
//
// Masters advertise the proxy's port as their peer address (`capstan server
// --advertise-peer-port`) and listen on another, so every connection another master opens
// to them arrives at the proxy. The proxy learns which master opened a connection from the
// kernel: it finds the socket of the connection's client port in /proc/net/tcp and the process
// whose file descriptors hold it (see ProcResolver). Loopback addresses alone cannot tell
// masters apart.
//
// Faults apply per link (dialing master, listening master):
//
//   - Blocked: bytes are read and dropped in both directions, as a network that loses every
//     packet; new connections are accepted and then held without an answer. A connection that
//     lost bytes is never used again: it is closed when the link heals, so no peer ever reads a
//     stream with a hole in it.
//   - Delay and Jitter: each chunk of bytes is held for Delay ± Jitter, in order.
//
// This is the CI-safe tier of RELIABILITY.md §4 (Tier A): no root, no firewall.
package proxy
