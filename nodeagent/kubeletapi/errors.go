package kubeletapi

import (
	"errors"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	// ErrPodNotFound is returned by Pods when no pod of that namespace and name runs on this
	// node. The server answers 404.
	ErrPodNotFound = errors.New("kubeletapi: pod not found")
	// ErrContainerNotFound is returned by Pods when the pod has no such container, or no attempt
	// of it (the previous one when asked for). The server answers 404.
	ErrContainerNotFound = errors.New("kubeletapi: container not found")
)

// Internal errors, never shown to clients as such.
var (
	// errSessionEnded is returned by a port forward that arrives after its session ended.
	errSessionEnded = errors.New("kubeletapi: port-forward session ended")
	// errTunnelResponse is returned when kubelet's library writes a response body inside a
	// port-forward tunnel, where there is nobody to read it.
	errTunnelResponse = errors.New("kubeletapi: no response body inside a port-forward tunnel")
)

// notFoundError is ErrPodNotFound or ErrContainerNotFound with the message the client is shown,
// worded as kubelet words it. The server builds one when Pods returns a bare sentinel.
type notFoundError struct {
	err error
	msg string
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.err }

// requestError is a problem with the request itself, answered with its own status code.
type requestError struct {
	code   int32
	reason metav1.StatusReason
	msg    string
	// allow lists the allowed methods of a 405 answer.
	allow string
}

func (e *requestError) Error() string { return e.msg }

// badRequest returns a 400 requestError with msg.
func badRequest(msg string) error {
	return &requestError{code: http.StatusBadRequest, reason: metav1.StatusReasonBadRequest, msg: msg}
}
