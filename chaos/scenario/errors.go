package scenario

import "errors"

// ErrUnknown is returned by Lookup for a name no scenario has.
var ErrUnknown = errors.New("scenario: unknown scenario")
