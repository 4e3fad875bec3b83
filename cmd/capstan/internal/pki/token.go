package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// joinTokenPrefix starts every join token and names its format version.
	joinTokenPrefix = "K1"
	// joinTokenSeparator separates the CA hash from the secret.
	joinTokenSeparator = "::"
	// hashHexLen is the length of a hex SHA-256: the CA hash and a hashed secret.
	hashHexLen = 2 * sha256.Size
	// secretBytes is the size of a join token's random secret.
	secretBytes = 32
	// gossipKeyBytes is the size of a memberlist AES-256 key.
	gossipKeyBytes = 32
	// bearerTokenBytes is the number of random bytes in a bearer token.
	bearerTokenBytes = 32
)

// NewJoinToken returns a join token for the cluster whose CA certificate is caCertPEM:
// "K1" + CAHash(caCertPEM) + "::" + a 32-byte random secret in lower-case hex. The cluster
// stores HashSecret of the secret, never the token.
func NewJoinToken(caCertPEM []byte) (string, error) {
	caHash, err := CAHash(caCertPEM)
	if err != nil {
		return "", err
	}
	secret, err := randomBytes(secretBytes)
	if err != nil {
		return "", err
	}
	return joinTokenPrefix + caHash + joinTokenSeparator + hex.EncodeToString(secret), nil
}

// ParseJoinToken splits a join token into the CA hash and the secret, both 64 lower-case hex
// characters. Surrounding white space (a trailing newline from a token file) is ignored and
// upper-case hex is accepted. The error wraps ErrMalformedToken, names what is malformed and
// never contains any part of the token.
func ParseJoinToken(token string) (caHash, secret string, err error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", "", fmt.Errorf("%w: token is empty", ErrMalformedToken)
	}
	rest, ok := strings.CutPrefix(token, joinTokenPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: token does not start with %q", ErrMalformedToken, joinTokenPrefix)
	}
	caHash, secret, ok = strings.Cut(rest, joinTokenSeparator)
	if !ok {
		return "", "", fmt.Errorf("%w: no %q between the CA hash and the secret", ErrMalformedToken, joinTokenSeparator)
	}
	if len(caHash) != hashHexLen {
		return "", "", fmt.Errorf("%w: CA hash has %d characters; want %d", ErrMalformedToken, len(caHash), hashHexLen)
	}
	if !isHex(caHash) {
		return "", "", fmt.Errorf("%w: CA hash is not hexadecimal", ErrMalformedToken)
	}
	if secret == "" {
		return "", "", fmt.Errorf("%w: secret after %q is missing", ErrMalformedToken, joinTokenSeparator)
	}
	if len(secret) != 2*secretBytes {
		return "", "", fmt.Errorf("%w: secret has %d characters; want %d", ErrMalformedToken, len(secret), 2*secretBytes)
	}
	if !isHex(secret) {
		return "", "", fmt.Errorf("%w: secret is not hexadecimal", ErrMalformedToken)
	}
	return strings.ToLower(caHash), strings.ToLower(secret), nil
}

// HashSecret returns the lower-case hex SHA-256 of secret: what the cluster stores instead of
// the secret. A single unsalted hash suffices because secrets are 256-bit random values, not
// passwords.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CheckSecret reports whether secret hashes to storedHash, a value from HashSecret. The
// comparison takes the same time wherever the hashes differ; a malformed storedHash never
// matches.
func CheckSecret(secret, storedHash string) bool {
	want, err := hex.DecodeString(storedHash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// NewBearerToken returns a new API bearer token: 32 random bytes in unpadded base64url, 43
// characters.
func NewBearerToken() (string, error) {
	b, err := randomBytes(bearerTokenBytes)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewGossipKey returns a 32-byte key for memberlist's AES-256 encryption.
func NewGossipKey() ([]byte, error) {
	return randomBytes(gossipKeyBytes)
}

// randomBytes returns n bytes from crypto/rand.
func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("pki: read random bytes: %v", err)
	}
	return b, nil
}

// isHex reports whether s consists of hexadecimal digits only.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
