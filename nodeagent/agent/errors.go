package agent

import "errors"

var (
	// ErrNoIdentity is returned when the data directory holds no identity and no join token
	// was given to get one.
	ErrNoIdentity = errors.New("agent: not joined yet and no join token given")
	// ErrJoinRefused is returned when the master's answer to a join request cannot be used.
	ErrJoinRefused = errors.New("agent: join refused")
)
