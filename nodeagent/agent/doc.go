// Package agent is Capstan's node agent (the kubelet of `capstan agent`): it joins the cluster
// with the join token, registers its Node, reports the Node's status, takes part in the
// cluster's liveness gossip, runs the pods the scheduler binds to it through the pod manager
// (package pods) on containerd, and serves the kubelet API for logs, exec, attach and
// port-forward.
//
// # Identity
//
// On its first start the agent generates two keys and asks a master, through a Joiner that
// holds the join token, for a client certificate (CN system:node:<name>, O system:nodes) and a
// serving certificate for its kubelet API. The certificates, the cluster CA, the gossip key and
// the masters' URLs are saved in <DataDir>/pki and <DataDir>/agent.json; later starts reuse
// them and need no token.
//
// # Masters
//
// Every API request goes to one master of a list that starts with the join response and is
// kept up to date from gossip (masters publish their API URL in their member metadata). A
// request that cannot reach the current master (dial error, connection refused or reset) is
// sent to the next one, and the current master changes for every later request; watches that
// break re-list through the next master.
//
// # Node
//
// The Node is created or updated with the host's labels, capacity, addresses, node info and
// daemon endpoint, and the capstan.io/gossip annotation that tells the node lifecycle controller
// to judge it by gossip. Its Ready condition is heartbeated every StatusInterval (True with
// KubeletReady while the container runtime answers, False otherwise), and a Lease in
// kube-node-lease is renewed when the API serves leases. The agent waits for the node IPAM
// controller to set spec.podCIDR and gives it to the runtime's pod network.
//
// # Hollow nodes
//
// RunHollow runs many simulated nodes in one process for scale tests: each joins with its own
// identity, registers and heartbeats its Node with that identity, and "runs" the pods bound to
// it by writing their status (Running and Ready at once, deleted when they are deleted
// gracefully). One shared watch (field selector spec.nodeName!="") feeds every hollow node.
// Only the first HollowGossip nodes join gossip with a memberlist member of their own; the
// others carry no gossip annotation, so the node lifecycle controller leaves them alone.
//
// # Shutdown
//
// When ctx ends the agent leaves gossip (so the masters see a departure, not a death), stops
// its kubelet API and its watches, and returns; containers keep running and the next start
// adopts them.
package agent
