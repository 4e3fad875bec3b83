// Package watch is raftstore's watch hub: a bounded history of committed events that watchers
// read from their own goroutines.
//
// The state machine appends each applied entry's events to the Hub; appending never blocks and
// never waits for a watcher. Each Watcher keeps a cursor into the shared history and pulls the
// events under its prefix when its owner calls Next. History is bounded by count and age: a
// watch that starts below the retained history fails with ErrCompacted, and a watcher that falls
// more than its lag limit behind (or out of the history) is closed with ErrLagged and must
// re-list. A restore of the state machine closes every watcher with ErrReset.
package watch
