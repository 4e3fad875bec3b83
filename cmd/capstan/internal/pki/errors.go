package pki

import "errors"

// Errors returned by this package. Callers test them with errors.Is; the returned errors wrap
// them with details that never include secrets.
var (
	// ErrInvalidPEM is returned when input is not PEM, lacks the expected block, or the
	// block's contents cannot be parsed.
	ErrInvalidPEM = errors.New("pki: invalid PEM data")
	// ErrNotCA is returned by LoadCA when the certificate is not a certificate authority.
	ErrNotCA = errors.New("pki: certificate is not a certificate authority")
	// ErrKeyMismatch is returned when a private key does not belong to its certificate.
	ErrKeyMismatch = errors.New("pki: private key does not match certificate")
	// ErrUnsupportedKey is returned for keys of an unsupported type or size, and for
	// encrypted private keys.
	ErrUnsupportedKey = errors.New("pki: unsupported key")
	// ErrCAExpired is returned when a certificate is requested from an expired CA.
	ErrCAExpired = errors.New("pki: certificate authority has expired")
	// ErrInvalidRequest is returned when a CertRequest, or the subject or validity given to
	// NewCA or NewCSR, is invalid.
	ErrInvalidRequest = errors.New("pki: invalid certificate request")
	// ErrInvalidCSR is returned by SignCSR when the certificate signing request cannot be
	// parsed or its self-signature does not verify.
	ErrInvalidCSR = errors.New("pki: invalid certificate signing request")
	// ErrMalformedToken is returned by ParseJoinToken for a token that is not
	// "K1<64 hex CA hash>::<64 hex secret>".
	ErrMalformedToken = errors.New("pki: malformed join token")
	// ErrInvalidTLSConfig is returned when the inputs of a TLS configuration are inconsistent
	// or unusable.
	ErrInvalidTLSConfig = errors.New("pki: invalid TLS configuration")
	// ErrUntrustedServer is returned from a handshake made with PinnedClientTLSConfig when
	// the server's certificate chain does not verify against the pinned CA. The error also
	// wraps the x509 verification error when there is one.
	ErrUntrustedServer = errors.New("pki: server is not trusted by the pinned CA")
	// ErrInvalidKubeconfig is returned by WriteKubeconfig for incomplete or inconsistent
	// input.
	ErrInvalidKubeconfig = errors.New("pki: invalid kubeconfig")
)
