package watch

import "errors"

var (
	// ErrCompacted is returned by Watch when the start revision is older than the retained history.
	ErrCompacted = errors.New("watch: required revision has been compacted")
	// ErrLagged is returned by Next when the watcher fell too far behind the head of the
	// history; the events it missed are gone and it must start again from a fresh list.
	ErrLagged = errors.New("watch: watcher fell behind and was closed")
	// ErrReset is returned by Next when the store was restored from a snapshot after the
	// watcher started; its position in history no longer exists.
	ErrReset = errors.New("watch: store was restored from a snapshot")
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("watch: watcher closed")
)
