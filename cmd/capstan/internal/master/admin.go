package master

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/raftstore"
)

// installAdmin registers the admin endpoints on the API server, behind its authentication and
// authorization.
func (m *Master) installAdmin() {
	m.api.Handle(adminapi.PathMembers, http.HandlerFunc(m.serveMembers))
	m.api.Handle(adminapi.PathMembers+"/", http.HandlerFunc(m.serveMember))
	m.api.Handle(adminapi.PathTransfer, http.HandlerFunc(m.serveTransfer))
	m.api.Handle(adminapi.PathHealth, http.HandlerFunc(m.serveHealth))
	m.api.Handle(adminapi.PathSnapshot, http.HandlerFunc(m.serveSnapshot))
	m.api.Handle(adminapi.PathHash, http.HandlerFunc(m.serveHash))
	// Profiles, behind the API's authentication and RBAC (cluster-admin).
	m.api.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
	m.api.Handle("/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	m.api.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	m.api.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	m.api.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	apiserver.WriteError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: r.URL.Path}, r.Method))
}

func (m *Master) serveMembers(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		members, err := m.store.Members(r.Context())
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		writeJSON(w, members)
	case http.MethodPost:
		var req adminapi.AddMemberRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			apiserver.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("malformed request: %v", err)))
			return
		}
		if err := m.store.AddNonvoter(r.Context(), req.ID, req.Address); err != nil {
			apiserver.WriteError(w, err)
			return
		}
		writeJSON(w, map[string]string{"added": req.ID})
	default:
		methodNotAllowed(w, r)
	}
}

// serveMember serves /capstan/v1/members/{id}[/promote|/demote].
func (m *Master) serveMember(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, adminapi.PathMembers+"/"), "/")
	id, action, _ := strings.Cut(rest, "/")
	force := r.URL.Query().Get("force") == "true"
	var err error
	switch {
	case id == "":
		err = apierrors.NewBadRequest("a member ID is required")
	case action == "" && r.Method == http.MethodDelete:
		err = m.store.RemoveMember(r.Context(), id, force)
	case action == "promote" && r.Method == http.MethodPost:
		err = m.store.Promote(r.Context(), id, force)
	case action == "demote" && r.Method == http.MethodPost:
		err = m.store.Demote(r.Context(), id, force)
	default:
		methodNotAllowed(w, r)
		return
	}
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	writeJSON(w, map[string]string{"member": id, "done": strings.TrimSpace(action + " " + r.Method)})
}

func (m *Master) serveTransfer(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r)
		return
	}
	if err := m.store.TransferLeadership(r.Context(), r.URL.Query().Get("to")); err != nil {
		apiserver.WriteError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	_ = m.store.WaitLeader(ctx) // report the new leader once this master knows it
	leader, _ := m.store.Leader()
	writeJSON(w, map[string]string{"leader": leader})
}

// Health reports whether the cluster has a leader and every voter is healthy.
func Health(ctx context.Context, store *raftstore.Store) (adminapi.Health, error) {
	members, err := store.Members(ctx)
	if err != nil {
		return adminapi.Health{}, err
	}
	h := adminapi.Health{Members: members, Healthy: true}
	for _, mem := range members {
		if mem.Leader && mem.Status != nil && mem.Status.State == "Leader" {
			h.Leader = mem.ID
		}
		if mem.Voter && !mem.Healthy {
			h.Healthy = false
			reason := mem.Error
			if reason == "" {
				reason = fmt.Sprintf("trails the leader by %d entries", mem.Lag)
			}
			h.Problems = append(h.Problems, fmt.Sprintf("voter %s is unhealthy: %s", mem.ID, reason))
		}
	}
	if h.Leader == "" {
		h.Healthy = false
		h.Problems = append(h.Problems, "the cluster has no leader")
	}
	return h, nil
}

func (m *Master) serveHealth(w http.ResponseWriter, r *http.Request) {
	h, err := Health(r.Context(), m.store)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	writeJSON(w, h)
}

func (m *Master) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="capstan.snapshot"`)
	info, err := m.store.SaveSnapshot(r.Context(), w)
	if err != nil {
		// Headers are out: the truncated stream fails its checksum on the client.
		m.log.Error("snapshot stream failed", "error", err)
		return
	}
	m.log.Info("streamed a snapshot", "revision", info.Revision, "keys", info.Keys, "bytes", info.Size)
}

func (m *Master) serveHash(w http.ResponseWriter, r *http.Request) {
	rev, sum := m.store.Hash()
	writeJSON(w, adminapi.StateHash{Member: m.cfg.Name, Revision: rev, Hash: hex.EncodeToString(sum[:])})
}
