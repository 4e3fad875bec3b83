package tables

import "errors"

var (
	// ErrNoMetadata is returned when an object to convert has no object metadata (name,
	// creationTimestamp, ...). The reference apiserver answers such requests with 406 Not Acceptable.
	ErrNoMetadata = errors.New("tables: object has no metadata")

	// ErrUnexpectedType is returned when a Convertor receives an object of a Go type it does not
	// print, for example a Service handed to the pods Convertor. It indicates a server bug.
	ErrUnexpectedType = errors.New("tables: unexpected object type")

	// ErrInvalidIncludeObject is returned when Options.IncludeObject is not one of None, Metadata,
	// Object or empty. The reference apiserver answers it with 400 Bad Request.
	ErrInvalidIncludeObject = errors.New("tables: unrecognized includeObject value")
)
