package mvcc

import "errors"

var (
	// ErrCompacted is returned by reads at a revision older than the view's compaction point.
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	// ErrFutureRevision is returned by reads at a revision newer than the view's revision.
	ErrFutureRevision = errors.New("mvcc: required revision is a future revision")
)
