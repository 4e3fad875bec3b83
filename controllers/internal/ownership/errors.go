package ownership

import "errors"

var (
	// ErrOwnerGone is returned by a recheck when the owner no longer exists
	// under the UID the controller knows, or is being deleted; a controller
	// must not adopt new objects for it.
	ErrOwnerGone = errors.New("ownership: owner is gone or being deleted")
)
