package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/raftstore"
)

// statusFor turns any error into the metav1.Status the client receives. It is the only place
// where errors become HTTP statuses.
func statusFor(err error) *metav1.Status {
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		st := apiStatus.Status()
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		st.Kind, st.APIVersion = "Status", "v1"
		return &st
	}
	switch {
	case errors.Is(err, raftstore.ErrUnknownOutcome):
		return newStatus(http.StatusGatewayTimeout, metav1.StatusReasonTimeout,
			fmt.Sprintf("the write may or may not have been applied (the leader was lost while it was in flight); read the object before retrying: %v", err))
	case errors.Is(err, raftstore.ErrNoLeader):
		return newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			fmt.Sprintf("the cluster has no leader right now; the request was not applied, retry it: %v", err))
	case errors.Is(err, raftstore.ErrQuotaExceeded):
		return newStatus(http.StatusInsufficientStorage, metav1.StatusReasonInternalError,
			fmt.Sprintf("the cluster store is full; delete objects or raise the store quota: %v", err))
	case errors.Is(err, raftstore.ErrValueTooLarge), errors.Is(err, raftstore.ErrRequestTooLarge):
		return newStatus(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, err.Error())
	case errors.Is(err, raftstore.ErrCompacted):
		return newStatus(http.StatusGone, metav1.StatusReasonExpired, err.Error())
	case errors.Is(err, raftstore.ErrFutureRevision):
		st := newStatus(http.StatusGatewayTimeout, metav1.StatusReasonTimeout, fmt.Sprintf("Too large resource version: %v", err))
		st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}, RetryAfterSeconds: 1}
		return st
	case errors.Is(err, raftstore.ErrMemberNotFound):
		return newStatus(http.StatusNotFound, metav1.StatusReasonNotFound, err.Error())
	case errors.Is(err, raftstore.ErrMemberRemoved), errors.Is(err, raftstore.ErrMemberExists):
		return newStatus(http.StatusConflict, metav1.StatusReasonConflict, err.Error())
	case errors.Is(err, raftstore.ErrQuorumAtRisk):
		return newStatus(http.StatusConflict, metav1.StatusReasonConflict, err.Error()+"; pass --force to do it anyway")
	case errors.Is(err, raftstore.ErrNotCaughtUp):
		return newStatus(http.StatusConflict, metav1.StatusReasonConflict, err.Error()+"; wait for it to catch up or pass --force")
	case errors.Is(err, raftstore.ErrNotVoter), errors.Is(err, raftstore.ErrInvalidRequest):
		return newStatus(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
	case errors.Is(err, raftstore.ErrClusterHealthy):
		return newStatus(http.StatusConflict, metav1.StatusReasonConflict, err.Error())
	case errors.Is(err, raftstore.ErrStopped), errors.Is(err, raftstore.ErrHalted):
		return newStatus(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return newStatus(http.StatusGatewayTimeout, metav1.StatusReasonTimeout, "the request did not complete in time: "+err.Error())
	case errors.Is(err, context.Canceled):
		return newStatus(499, metav1.StatusReasonTimeout, "the client went away")
	}
	return newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
}

func newStatus(code int32, reason metav1.StatusReason, msg string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: code, Reason: reason, Message: msg,
	}
}

// statusError returns an API error with the given code, reason and message.
func statusError(code int32, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: *newStatus(code, reason, msg)}
}

func errUnsupportedMediaType(contentType string) error {
	return statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, and for PATCH the four patch types (got %q)", contentType))
}

func errNotAcceptable(accept string) error {
	return statusError(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		fmt.Sprintf("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got %q)", accept))
}

func errMethodNotAllowed(method, what string) error {
	return statusError(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
		fmt.Sprintf("%s is not supported on %s", method, what))
}

// errInvalidToken is returned for a bearer token that matches no user: 401, not anonymous.
var errInvalidToken = errors.New("apiserver: invalid bearer token")
