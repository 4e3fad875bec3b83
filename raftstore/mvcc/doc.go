// Package mvcc is the in-memory multi-version key index behind raftstore's state machine.
//
// A Tree is mutated by exactly one goroutine (the Raft FSM goroutine). After each applied batch
// the writer calls Tree.View, which returns an immutable View in O(1): the underlying B-tree is
// copy-on-write, so readers of a View never block the writer and never see later changes.
//
// Every key keeps the versions written since the last compaction, newest first, so a View can
// answer reads at any revision between its compaction point and its own revision. Deleting a key
// leaves a tombstone version until compaction passes it.
package mvcc
