// Package adminapi is the contract between `capstan admin` and the masters: the paths, the
// JSON bodies and a client that speaks them with the admin kubeconfig's credentials.
//
// The endpoints live beside the Kubernetes API on every master, behind the same
// authentication and RBAC (they are non-resource URLs; cluster-admin may use them):
//
//	GET    /capstan/v1/members                       []raftstore.Member
//	POST   /capstan/v1/members                       add a non-voter: AddMemberRequest
//	DELETE /capstan/v1/members/{id}?force=true       remove for good
//	POST   /capstan/v1/members/{id}/promote?force=true
//	POST   /capstan/v1/members/{id}/demote?force=true
//	POST   /capstan/v1/leader/transfer?to={id}
//	GET    /capstan/v1/health                        Health
//	GET    /capstan/v1/snapshot                      a raftstore snapshot stream
//	GET    /capstan/v1/hash                          StateHash
//
// Joining is separate and unauthenticated (the join token is the credential):
//
//	POST   /capstan/v1/join                          JoinRequest -> JoinResponse
//
// Errors are Kubernetes Status objects.
package adminapi

import (
	"github.com/capstan-io/capstan/raftstore"
)

// Paths of the admin API.
const (
	PathMembers  = "/capstan/v1/members"
	PathTransfer = "/capstan/v1/leader/transfer"
	PathHealth   = "/capstan/v1/health"
	PathSnapshot = "/capstan/v1/snapshot"
	PathHash     = "/capstan/v1/hash"
	PathJoin     = "/capstan/v1/join"
)

// AddMemberRequest adds a master that is already running as a non-voter.
type AddMemberRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// Health is the cluster's health as one master sees it.
type Health struct {
	// Healthy is true when there is a leader and every voter is healthy.
	Healthy bool `json:"healthy"`
	// Leader is the leader's ID, empty when there is none.
	Leader string `json:"leader"`
	// Problems lists what is wrong, in words an operator can act on.
	Problems []string `json:"problems,omitempty"`
	// Members is the membership with each member's state.
	Members []raftstore.Member `json:"members"`
}

// StateHash identifies a member's state: members at the same revision have the same hash.
type StateHash struct {
	Member   string `json:"member"`
	Revision uint64 `json:"revision"`
	Hash     string `json:"hash"`
}

// Roles a joiner asks for.
const (
	RoleMaster = "master"
	RoleNode   = "node"
)

// JoinRequest is what a new master or agent sends, with the join token, to get its identity.
type JoinRequest struct {
	Token string `json:"token"`
	// Name is the joiner's stable name: its Raft ID for a master, its Node name for an agent.
	Name string `json:"name"`
	Role string `json:"role"`
	// PeerAddress is a master's Raft address (host:port).
	PeerAddress string `json:"peerAddress,omitempty"`
	// ClientCSR is a CSR for the joiner's client certificate (a master's peer certificate, an
	// agent's node credential).
	ClientCSR string `json:"clientCSR"`
	// ServingCSR and ServingNames are for the joiner's serving certificate (a master's API, an
	// agent's kubelet API) and the DNS names and IPs it must carry.
	ServingCSR   string   `json:"servingCSR"`
	ServingNames []string `json:"servingNames"`
}

// JoinResponse carries the joiner's identity.
type JoinResponse struct {
	CACert      string `json:"caCert"`
	ClientCert  string `json:"clientCert"`
	ServingCert string `json:"servingCert"`
	// GossipKey is the cluster's gossip encryption key, base64.
	GossipKey string `json:"gossipKey"`
	// Masters lists the masters' API URLs.
	Masters []string `json:"masters"`
	// GossipPeers lists the masters' gossip addresses (host:port), to join liveness gossip.
	GossipPeers []string `json:"gossipPeers,omitempty"`
}
