// Package crilog reads and writes container log files in the CRI logging format that the kubelet
// uses: one record per line,
//
//	<RFC 3339 timestamp> <stdout|stderr> <F|P> <content>
//
// where F ends a line and P marks a fragment continued by the next record of the same stream.
//
// A Writer holds an exclusive flock on the file it writes; a follower stops when the lock is gone,
// which is how `logs -f` and attach learn that a container's output has ended. The package uses
// only the standard library because the container logger runs it from a package init function
// (see the logger package).
package crilog
