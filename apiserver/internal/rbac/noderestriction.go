package rbac

import "fmt"

// NamespaceNodeLease is the namespace of the nodes' heartbeat Leases.
const NamespaceNodeLease = "kube-node-lease"

// NodeRestriction limits what a node may write to what concerns itself, like
// the write checks of Kubernetes' NodeRestriction admission plugin. The
// apiserver calls it for every request that authorization allowed, before
// storing anything. It returns nil for requests that are not writes (create,
// update, patch, delete, deletecollection) of a resource, and for users that are
// not nodes (see NodeIdentity: a name system:node:<name> and the group
// system:nodes). For a node named n it refuses, with an error matching
// ErrNodeRestriction and Kubernetes' message:
//
//   - any request, if n is empty (the user "system:node:");
//   - a write of a Node (core group "nodes", any subresource) whose name is not
//     n: `node "n" is not allowed to modify node "m"`. For create,
//     attr.Name must be set to the name in the request body, as the
//     Kubernetes apiserver does for admission; deletecollection is therefore
//     always refused;
//   - a write of a Lease (coordination.k8s.io "leases") outside the
//     kube-node-lease namespace, or named other than n (attr.Name set from the
//     body on create, as above);
//   - for pods: a create or delete of a pod whose spec.nodeName is not n
//     (create is for mirror pods; update, patch and deletecollection of pods are
//     refused), an update or patch of pods/status for a pod whose spec.nodeName
//     is not n, a create of pods/eviction for such a pod, and a write of any
//     other pod subresource except the connect ones (attach, exec, portforward,
//     proxy, which admission does not see).
//
// podNodeName returns spec.nodeName of the pod the request is about: for a
// create of a pod, the pod in the request body; otherwise the stored pod (the
// old object of an update). It is called only for pod requests by nodes, and
// its error is returned unchanged (a missing pod should be the apiserver's
// not-found error, answered with 404 as Kubernetes does). A nil podNodeName
// refuses pod requests by nodes.
//
// Not enforced here (Kubernetes checks them with the objects in hand): that a
// node creates only mirror pods, with an owner reference to its Node and no
// references to secrets, configmaps, service accounts or claims; that it does
// not change its taints, configSource or restricted labels, nor pod labels
// through pods/status; the service account token, CSR, CSINode and
// PersistentVolumeClaim status rules. Nor does RBAC restrict what a node reads:
// Capstan has no Node authorizer, so system:node may read every secret,
// configmap and pod.
func NodeRestriction(attr Attributes, podNodeName func() (string, error)) error {
	node, isNode := NodeIdentity(attr.User)
	if !isNode || !attr.ResourceRequest {
		return nil
	}
	op, isWrite := admissionOperation(attr.Verb)
	if !isWrite {
		return nil
	}
	if node == "" {
		return nodeForbidden("could not determine node from user %q", attr.User.Name)
	}
	switch {
	case attr.APIGroup == groupCore && attr.Resource == "nodes":
		if attr.Name != node {
			return nodeForbidden("node %q is not allowed to modify node %q", node, attr.Name)
		}
		return nil
	case attr.APIGroup == groupCoordination && attr.Resource == "leases":
		if attr.Namespace != NamespaceNodeLease {
			return nodeForbidden("can only access leases in the %q system namespace", NamespaceNodeLease)
		}
		if attr.Name != node {
			return nodeForbidden("can only access node lease with the same name as the requesting node")
		}
		return nil
	case attr.APIGroup == groupCore && attr.Resource == "pods":
		return restrictPod(attr, op, node, podNodeName)
	default:
		return nil
	}
}

// restrictPod applies NodeRestriction to a write of a pod or pod subresource
// by node.
func restrictPod(attr Attributes, op, node string, podNodeName func() (string, error)) error {
	var refusal string
	switch attr.Subresource {
	case "":
		switch attr.Verb {
		case "create":
			refusal = fmt.Sprintf("node %q can only create pods with spec.nodeName set to itself", node)
		case "delete":
			refusal = fmt.Sprintf("node %q can only delete pods with spec.nodeName set to itself", node)
		case "deletecollection": // each pod would need checking
			return nodeForbidden("node %q can only delete pods with spec.nodeName set to itself", node)
		default:
			return nodeForbidden("unexpected operation %q, node %q can only create and delete mirror pods", op, node)
		}
	case "status":
		if op != "UPDATE" {
			return nodeForbidden("unexpected operation %q", op)
		}
		refusal = fmt.Sprintf("node %q can only update pod status for pods with spec.nodeName set to itself", node)
	case "eviction":
		if op != "CREATE" {
			return nodeForbidden("unexpected operation %s", op)
		}
		refusal = fmt.Sprintf("node %s can only evict pods with spec.nodeName set to itself", node)
	case "attach", "exec", "portforward", "proxy":
		return nil
	default:
		return nodeForbidden("unexpected pod subresource %q, only 'status' and 'eviction' are allowed", attr.Subresource)
	}
	if podNodeName == nil {
		return nodeForbidden("%s", refusal)
	}
	bound, err := podNodeName()
	if err != nil {
		return err
	}
	if bound != node {
		return nodeForbidden("%s", refusal)
	}
	return nil
}

// admissionOperation maps a resource verb to the admission operation Kubernetes
// reports (CREATE, UPDATE, DELETE); isWrite is false for other verbs.
func admissionOperation(verb string) (op string, isWrite bool) {
	switch verb {
	case "create":
		return "CREATE", true
	case "update", "patch":
		return "UPDATE", true
	case "delete", "deletecollection":
		return "DELETE", true
	default:
		return "", false
	}
}

// nodeForbidden returns an ErrNodeRestriction refusal with a formatted message.
func nodeForbidden(format string, args ...any) error {
	return &forbiddenError{kind: ErrNodeRestriction, msg: fmt.Sprintf(format, args...)}
}
