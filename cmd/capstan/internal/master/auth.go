package master

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/raftstore"
)

// errBadToken refuses a bearer token the cluster does not know.
var errBadToken = errors.New("invalid bearer token")

// storeTokens authenticates bearer tokens stored in the cluster (by their SHA-256): a lookup in
// this master's state, confirmed with a linearizable read on a miss so a token just created
// through another master works at once.
type storeTokens struct {
	store *raftstore.Store
}

var _ apiserver.Authenticator = (*storeTokens)(nil)

// AuthenticateRequest implements apiserver.Authenticator.
func (s *storeTokens) AuthenticateRequest(r *http.Request) (*apiserver.User, bool, error) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return nil, false, nil
	}
	key := tokenKey(strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")))
	kv, found, _, err := s.store.Get(r.Context(), key, raftstore.ReadOptions{Stale: true})
	if err == nil && !found {
		kv, found, _, err = s.store.Get(r.Context(), key, raftstore.ReadOptions{})
	}
	if err != nil {
		return nil, false, err
	}
	if !found {
		return nil, false, errBadToken
	}
	var u tokenUser
	if err := json.Unmarshal(kv.Value, &u); err != nil {
		return nil, false, err
	}
	return &apiserver.User{Name: u.Name, Groups: u.Groups}, true, nil
}
