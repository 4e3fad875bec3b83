package history

import "errors"

var (
	// ErrHashCollision is returned by Store.Current when the revision name the
	// hash gives is taken by a revision with different data: the caller should
	// bump its collisionCount and try again.
	ErrHashCollision = errors.New("history: hash collision")
)
