package apiserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
}

// Well-known groups, as in Kubernetes.
const (
	GroupMasters         = "system:masters"
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupNodes           = "system:nodes"
	UserAnonymous        = "system:anonymous"
)

// Authenticator identifies the user of a request. It returns ok false, with no error, when the
// request carries no credentials it understands.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (user *User, ok bool, err error)
}

// Attributes describe a request for authorization.
type Attributes struct {
	Verb            string
	ResourceRequest bool
	APIGroup        string
	Resource        string
	Subresource     string
	Namespace       string
	Name            string
	Path            string
}

// Authorizer decides whether a user may make a request.
type Authorizer interface {
	Authorize(ctx context.Context, user *User, attr Attributes) (allowed bool, reason string, err error)
}

// TokenAuthenticator accepts bearer tokens from a fixed table. Tokens are kept as SHA-256
// digests and compared in constant time.
type TokenAuthenticator struct {
	tokens map[[sha256.Size]byte]*User
}

// NewTokenAuthenticator returns an authenticator for the given token -> user table.
func NewTokenAuthenticator(tokens map[string]*User) *TokenAuthenticator {
	t := &TokenAuthenticator{tokens: make(map[[sha256.Size]byte]*User, len(tokens))}
	for tok, u := range tokens {
		t.tokens[sha256.Sum256([]byte(tok))] = u
	}
	return t
}

// AuthenticateRequest checks the request's bearer token.
func (t *TokenAuthenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return nil, false, nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))))
	for k, u := range t.tokens {
		if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
			return u, true, nil
		}
	}
	return nil, false, errInvalidToken
}

// CertAuthenticator accepts TLS client certificates verified by the server's TLS
// configuration: the common name is the user and the organizations are its groups.
type CertAuthenticator struct{}

// AuthenticateRequest reads the verified client certificate.
func (CertAuthenticator) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false, nil
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return nil, false, nil
	}
	return &User{Name: cert.Subject.CommonName, Groups: append([]string(nil), cert.Subject.Organization...)}, true, nil
}

// Authenticators tries each authenticator in turn; the first that recognises the request's
// credentials decides.
type Authenticators []Authenticator

// AuthenticateRequest implements Authenticator.
func (a Authenticators) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	var firstErr error
	for _, auth := range a {
		u, ok, err := auth.AuthenticateRequest(r)
		if ok {
			return u, true, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return nil, false, firstErr
}

var (
	_ Authenticator = (*TokenAuthenticator)(nil)
	_ Authenticator = CertAuthenticator{}
	_ Authenticator = Authenticators(nil)
)

// withAuthenticatedGroup adds system:authenticated, as Kubernetes does for every
// authenticated user.
func withAuthenticatedGroup(u *User) *User {
	for _, g := range u.Groups {
		if g == GroupAuthenticated {
			return u
		}
	}
	c := *u
	c.Groups = append(append([]string(nil), u.Groups...), GroupAuthenticated)
	return &c
}

type userKey struct{}

// withUser returns ctx carrying u.
func withUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user of a request's context.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok
}
