package scheduler

import "errors"

var (
	// ErrNoBindResult is the error a binding is taken to have failed with when the Binder
	// returned fewer results than bindings.
	ErrNoBindResult = errors.New("scheduler: binder returned no result for the binding")
)
