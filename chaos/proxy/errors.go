package proxy

import "errors"

// Errors of the package.
var (
	// ErrUnknownPeer is returned when a proxy name is not in the mesh.
	ErrUnknownPeer = errors.New("proxy: unknown peer")
	// ErrClosed is returned after the mesh was closed.
	ErrClosed = errors.New("proxy: closed")
)
