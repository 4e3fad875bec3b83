package deployment

import "errors"

var (
	// ErrUnknownStrategy is returned for a Deployment whose strategy type is
	// neither RollingUpdate nor Recreate.
	ErrUnknownStrategy = errors.New("deployment: unexpected deployment strategy type")
)
