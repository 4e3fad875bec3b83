package master

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/capstan-io/capstan/apiserver"
	"github.com/capstan-io/capstan/cmd/capstan/adminapi"
	"github.com/capstan-io/capstan/cmd/capstan/internal/pki"
	"github.com/capstan-io/capstan/raftstore"
)

// maxJoinBody bounds a join request.
const maxJoinBody = 64 << 10

// joinCluster gets this master's identity from an existing master with the join token,
// retrying until ctx ends while the master cannot be reached (it may be starting too).
func joinCluster(ctx context.Context, cfg *Config, peerAddr string, serviceIP net.IP, log *slog.Logger) (*identity, error) {
	caHash, _, err := pki.ParseJoinToken(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	clientCSR, clientKey, err := pki.NewCSR(cfg.Name)
	if err != nil {
		return nil, err
	}
	servingCSR, servingKey, err := pki.NewCSR("kube-apiserver")
	if err != nil {
		return nil, err
	}
	req := adminapi.JoinRequest{
		Token: cfg.Token, Name: cfg.Name, Role: adminapi.RoleMaster, PeerAddress: peerAddr,
		ClientCSR: string(clientCSR), ServingCSR: string(servingCSR), ServingNames: cfg.servingNames(serviceIP),
	}
	resp, err := requestJoin(ctx, cfg.Join, caHash, req, log)
	if err != nil {
		return nil, err
	}
	if got, err := pki.CAHash([]byte(resp.CACert)); err != nil || got != caHash {
		return nil, fmt.Errorf("the master at %s answered with a CA that does not match the join token", cfg.Join)
	}
	id := &identity{dir: pkiDir(cfg.DataDir), caPEM: []byte(resp.CACert)}
	if err := id.save([]byte(resp.ServingCert), servingKey, []byte(resp.ClientCert), clientKey); err != nil {
		return nil, err
	}
	log.Info("joined the cluster", "via", cfg.Join)
	return id, nil
}

// RequestJoin sends a join request to a master whose CA has the hash in the token, retrying
// while the master cannot be reached or has no leader, until ctx ends. Errors the master
// returns for the request itself (a wrong token, a removed name) are final.
func RequestJoin(ctx context.Context, masterURL string, req adminapi.JoinRequest, log *slog.Logger) (*adminapi.JoinResponse, error) {
	caHash, _, err := pki.ParseJoinToken(req.Token)
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	return requestJoin(ctx, masterURL, caHash, req, log)
}

func requestJoin(ctx context.Context, masterURL, caHash string, req adminapi.JoinRequest, log *slog.Logger) (*adminapi.JoinResponse, error) {
	body, _ := json.Marshal(req)
	u, err := url.Parse(masterURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("master URL %q is not a URL", masterURL)
	}
	tlsConf, err := pki.PinnedClientTLSConfig(caHash, u.Hostname())
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	joinURL := strings.TrimSuffix(masterURL, "/") + adminapi.PathJoin
	for attempt := 0; ; attempt++ {
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, joinURL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(hreq)
		if err == nil {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var out adminapi.JoinResponse
				if err := json.Unmarshal(data, &out); err != nil {
					return nil, fmt.Errorf("join %s: malformed answer: %w", masterURL, err)
				}
				return &out, nil
			}
			var st metav1.Status
			if json.Unmarshal(data, &st) == nil && st.Message != "" && resp.StatusCode != http.StatusServiceUnavailable {
				return nil, fmt.Errorf("join %s refused (%d): %s", masterURL, resp.StatusCode, st.Message)
			}
			err = fmt.Errorf("join %s: %d %s", masterURL, resp.StatusCode, strings.TrimSpace(string(data)))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("could not join through %s: %w", masterURL, err)
		}
		if attempt%10 == 0 {
			log.Info("waiting to join the cluster", "master", masterURL, "error", err)
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// serveJoin answers a joiner that presents the join token with its identity. A master joiner
// is also added to the store as a non-voter (autopilot promotes it once it has caught up).
func (m *Master) serveJoin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		apiserver.WriteError(w, apierrors.NewMethodNotSupported(joinResource, r.Method))
		return
	}
	var req adminapi.JoinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJoinBody)).Decode(&req); err != nil {
		apiserver.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("malformed join request: %v", err)))
		return
	}
	resp, err := m.join(r.Context(), &req)
	if err != nil {
		m.log.Warn("join refused", "name", req.Name, "role", req.Role, "remote", r.RemoteAddr, "error", err)
		apiserver.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

var joinResource = schema.GroupResource{Resource: "join"}

func (m *Master) join(ctx context.Context, req *adminapi.JoinRequest) (*adminapi.JoinResponse, error) {
	if err := m.checkJoinToken(ctx, req.Token); err != nil {
		return nil, err
	}
	if msgs := validation.IsDNS1123Subdomain(req.Name); len(msgs) > 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("name %q is invalid: %s", req.Name, strings.Join(msgs, "; ")))
	}
	ca, err := readCA(ctx, m.store)
	if err != nil {
		return nil, err
	}
	var client, serving pki.CertRequest
	switch req.Role {
	case adminapi.RoleMaster:
		if msgs := validation.IsDNS1123Label(req.Name); len(msgs) > 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("master name %q is invalid: %s", req.Name, strings.Join(msgs, "; ")))
		}
		host, _, err := net.SplitHostPort(req.PeerAddress)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("peerAddress %q is not host:port", req.PeerAddress))
		}
		if err := m.store.AddNonvoter(ctx, req.Name, req.PeerAddress); err != nil {
			return nil, err
		}
		client = certRequest(req.Name, []string{mastersOrg}, []string{host}, pki.UsageServerAndClient)
		serving = certRequest("kube-apiserver", nil, append(req.ServingNames, m.serviceIP.String()), pki.UsageServer)
	case adminapi.RoleNode:
		client = certRequest("system:node:"+req.Name, []string{apiserver.GroupNodes}, nil, pki.UsageClient)
		serving = certRequest("system:node:"+req.Name, nil, req.ServingNames, pki.UsageServer)
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("role %q must be %q or %q", req.Role, adminapi.RoleMaster, adminapi.RoleNode))
	}
	clientCert, err := ca.SignCSR([]byte(req.ClientCSR), client)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("client CSR: %v", err))
	}
	servingCert, err := ca.SignCSR([]byte(req.ServingCSR), serving)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("serving CSR: %v", err))
	}
	gossip, _, _, err := m.store.Get(ctx, keyGossip, raftstore.ReadOptions{})
	if err != nil {
		return nil, err
	}
	records, err := m.masterRecords(ctx)
	if err != nil {
		return nil, err
	}
	resp := &adminapi.JoinResponse{CACert: string(ca.CertPEM), ClientCert: string(clientCert), ServingCert: string(servingCert), GossipKey: string(gossip.Value)}
	for _, rec := range records {
		resp.Masters = append(resp.Masters, rec.APIURL)
		if rec.GossipAddress != "" {
			resp.GossipPeers = append(resp.GossipPeers, rec.GossipAddress)
		}
	}
	return resp, nil
}

// checkJoinToken verifies a join token against the cluster's CA and stored secret.
func (m *Master) checkJoinToken(ctx context.Context, token string) error {
	unauthorized := func(msg string) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnauthorized, Reason: metav1.StatusReasonUnauthorized, Message: msg}}
	}
	caHash, secret, err := pki.ParseJoinToken(token)
	if err != nil {
		return unauthorized("invalid join token: " + err.Error())
	}
	if ours, _ := pki.CAHash(m.id.caPEM); caHash != ours {
		return unauthorized("the join token was made for another cluster (its CA hash does not match)")
	}
	kv, found, _, err := m.store.Get(ctx, keyJoinToken, raftstore.ReadOptions{})
	if err != nil {
		return err
	}
	if !found || !pki.CheckSecret(secret, string(kv.Value)) {
		return unauthorized("invalid join token")
	}
	return nil
}

// masterRecords lists the registered masters (this one at least).
func (m *Master) masterRecords(ctx context.Context) ([]masterRecord, error) {
	list, err := m.store.List(ctx, keyMasters, raftstore.ListOptions{ReadOptions: raftstore.ReadOptions{Stale: true}})
	if err != nil {
		return nil, err
	}
	var out []masterRecord
	for _, kv := range list.KVs {
		var rec masterRecord
		if json.Unmarshal(kv.Value, &rec) == nil && rec.APIURL != "" {
			out = append(out, rec)
		}
	}
	if len(out) == 0 {
		out = []masterRecord{{Name: m.cfg.Name, APIURL: m.endpoints.APIURL, GossipAddress: gossipAddress(m.cfg.Advertise, m.cfg.GossipPort)}}
	}
	return out, nil
}
