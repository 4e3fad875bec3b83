// Package master runs one Capstan master: the raftstore member, the Kubernetes API server, the
// cluster's identity (certificate authority, join token, admin credentials), the join and admin
// endpoints, and the work only the Raft leader does. `capstan server` is its command line;
// `capstan up`, the benchmarks and the end-to-end tests start masters through it.
package master
