// Package pki holds Capstan's cluster credentials: the certificate authority, the certificates
// it issues, join and bearer tokens, TLS configurations and kubeconfig files.
//
// `capstan server --bootstrap` creates a CA with NewCA and issues the first master's serving
// and peer certificate with CA.Issue. Masters serve the API over HTTPS and talk Raft over
// mutual TLS, both configured with ServerTLSConfig and ClientTLSConfig. Client certificates
// follow Kubernetes: the common name is the user and the organizations are the groups, so an
// agent's certificate has CN=system:node:<name> and O=system:nodes.
//
// Joining masters and agents do not have the CA yet. The join token created by NewJoinToken,
// "K1" + the hex SHA-256 of the CA certificate + "::" + a random secret, pins it:
// PinnedClientTLSConfig trusts exactly the servers whose presented chain verifies against the
// CA certificate with that hash. Certificates from Issue and SignCSR therefore carry the CA
// certificate after the leaf, so a server presenting them can be verified by a joiner. The
// cluster keeps only HashSecret of the secret and checks a presented one with CheckSecret.
//
// Keys are ECDSA P-256 and are encoded as PKCS #8 ("PRIVATE KEY"); certificates and keys are
// exchanged as PEM. Files holding secrets are written with WriteFileAtomic.
package pki
