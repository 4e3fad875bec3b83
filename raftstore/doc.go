// Package raftstore is Capstan's replicated key-value store: the etcd replacement that every
// master embeds.
//
// A Store is one member of a hashicorp/raft group. Its state machine is an MVCC key index
// (package mvcc) whose revision is the Raft log index of the entry that wrote a key, so
// revisions grow across leader changes and are identical on every member. Commands are typed,
// versioned records (command.go) and applying them is deterministic.
//
// Writes: any member accepts a Txn. A follower forwards it to the leader over the peer port,
// which also carries Raft (internal/mux). Every write carries a request ID; when the leader is
// lost while a write is in flight the store retries it with the same ID and the state machine
// answers a repeat from its deduplication table, so a write applies at most once. Only if the
// outcome is still unknown when the context ends does Txn return ErrUnknownOutcome.
//
// Reads: linearizable by default, on the leader and on followers, with a read index: the leader
// completes a Barrier once per term, captures its applied revision, confirms its leadership
// with VerifyLeader and returns that revision; the reading member waits until it has applied
// it. Stale reads (ReadOptions.Stale) read local state at once.
//
// Watches come from each member's own apply stream (package watch), so followers serve them.
//
// Snapshots stream the immutable view of the state without copying it; restoring one replaces
// the state atomically and closes every watcher. Membership changes add members as non-voters
// and promote them once caught up; removals are guarded by a quorum check.
package raftstore
