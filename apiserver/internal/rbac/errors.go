package rbac

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// ErrForbidden is matched (errors.Is) by every refusal of this package's
	// write checks and of NodeRestriction: ErrEscalation and ErrNodeRestriction
	// errors both match it. The apiserver answers 403 Forbidden, with
	// apierrors.NewForbidden(<group resource of the request>, <object name>, err);
	// err.Error() is Kubernetes' explanation.
	ErrForbidden = errors.New("rbac: forbidden")

	// ErrEscalation is matched by a refusal to create or update a Role,
	// ClusterRole or binding that would grant permissions the user does not
	// hold, and by a refusal to set an aggregationRule without full authority.
	// It also matches ErrForbidden.
	ErrEscalation = errors.New("rbac: privilege escalation")

	// ErrNodeRestriction is matched by a refusal of NodeRestriction: a node
	// touching another node's objects. It also matches ErrForbidden.
	ErrNodeRestriction = errors.New("rbac: node restriction")

	// ErrRoleNotFound is matched by a *NotFoundError: a binding written by a
	// user who may not bind its role refers to a role that does not exist. The
	// apiserver answers 404 Not Found.
	ErrRoleNotFound = errors.New("rbac: role not found")

	// ErrUnsupportedRoleRef is returned when a roleRef's kind is neither Role nor
	// ClusterRole. Validation refuses such bindings first, so it indicates a
	// server bug; the apiserver answers 500 Internal Server Error.
	ErrUnsupportedRoleRef = errors.New("rbac: unsupported role reference kind")
)

// forbiddenError is a refusal whose message is Kubernetes' text; kind is
// ErrEscalation or ErrNodeRestriction.
type forbiddenError struct {
	kind error
	msg  string
}

// Error returns Kubernetes' explanation of the refusal, without a package prefix,
// so that it can be put in a Status message as is.
func (e *forbiddenError) Error() string { return e.msg }

// Is reports whether target is ErrForbidden or the refusal's kind.
func (e *forbiddenError) Is(target error) bool { return target == ErrForbidden || target == e.kind }

// NotFoundError reports that a role referenced by a binding does not exist. It
// matches ErrRoleNotFound; Resource and Name are what the apiserver passes to
// apierrors.NewNotFound, whose message equals Error().
type NotFoundError struct {
	// Resource is rbac.authorization.k8s.io roles or clusterroles.
	Resource schema.GroupResource
	// Name is the name of the missing role.
	Name string
}

// Error returns `<resource>.<group> "<name>" not found`, Kubernetes' message.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found", e.Resource.String(), e.Name)
}

// Is reports whether target is ErrRoleNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrRoleNotFound }
