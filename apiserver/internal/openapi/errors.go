package openapi

import "errors"

var (
	// ErrInvalidResource is returned by New when a Resource or Subresource is
	// malformed: a missing field, an unknown verb, or a duplicate.
	ErrInvalidResource = errors.New("openapi: invalid resource")
	// ErrUnknownKind is returned by New when a kind has no generated schema,
	// because its group version is not among those compiled into this package.
	ErrUnknownKind = errors.New("openapi: unknown kind")
	// ErrAlreadyRegistered is returned by Service.Install when the mux already
	// has a handler for one of the OpenAPI paths.
	ErrAlreadyRegistered = errors.New("openapi: path already registered")
)
