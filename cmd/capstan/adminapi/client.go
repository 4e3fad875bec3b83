package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capstan-io/capstan/raftstore"
)

// Client calls a master's admin API with a kubeconfig's server and credentials.
type Client struct {
	base string
	http *http.Client
}

// NewClient builds a client from a kubeconfig file.
func NewClient(kubeconfig string) (*Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	return NewClientForConfig(cfg)
}

// NewClientForConfig builds a client from a REST configuration.
func NewClientForConfig(cfg *rest.Config) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{base: strings.TrimSuffix(cfg.Host, "/"), http: hc}, nil
}

// At returns a client with the same credentials for another master's URL.
func (c *Client) At(url string) *Client {
	return &Client{base: strings.TrimSuffix(url, "/"), http: c.http}
}

// Server returns the master the client talks to.
func (c *Client) Server() string { return c.base }

// Error is a master's refusal.
type Error struct {
	Code    int
	Reason  metav1.StatusReason
	Message string
}

func (e *Error) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

// send performs a request and turns error statuses into *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the master at %s: %w", c.base, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st metav1.Status
	if json.Unmarshal(data, &st) == nil && st.Message != "" {
		return nil, &Error{Code: resp.StatusCode, Reason: st.Reason, Message: st.Message}
	}
	return nil, &Error{Code: resp.StatusCode, Message: fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))}
}

func forceQuery(force bool) url.Values {
	if !force {
		return nil
	}
	return url.Values{"force": {"true"}}
}

// Members lists the members with their state.
func (c *Client) Members(ctx context.Context) ([]raftstore.Member, error) {
	var out []raftstore.Member
	return out, c.do(ctx, http.MethodGet, PathMembers, nil, nil, &out)
}

// AddMember adds a running master as a non-voter.
func (c *Client) AddMember(ctx context.Context, id, address string) error {
	return c.do(ctx, http.MethodPost, PathMembers, nil, AddMemberRequest{ID: id, Address: address}, nil)
}

// RemoveMember removes a member for good.
func (c *Client) RemoveMember(ctx context.Context, id string, force bool) error {
	return c.do(ctx, http.MethodDelete, PathMembers+"/"+url.PathEscape(id), forceQuery(force), nil, nil)
}

// Promote makes a non-voter a voter.
func (c *Client) Promote(ctx context.Context, id string, force bool) error {
	return c.do(ctx, http.MethodPost, PathMembers+"/"+url.PathEscape(id)+"/promote", forceQuery(force), nil, nil)
}

// Demote makes a voter a non-voter.
func (c *Client) Demote(ctx context.Context, id string, force bool) error {
	return c.do(ctx, http.MethodPost, PathMembers+"/"+url.PathEscape(id)+"/demote", forceQuery(force), nil, nil)
}

// TransferLeadership hands leadership to member to (any voter when empty) and returns the new leader.
func (c *Client) TransferLeadership(ctx context.Context, to string) (string, error) {
	var q url.Values
	if to != "" {
		q = url.Values{"to": {to}}
	}
	var out map[string]string
	err := c.do(ctx, http.MethodPost, PathTransfer, q, nil, &out)
	return out["leader"], err
}

// Health returns the cluster's health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var out Health
	return out, c.do(ctx, http.MethodGet, PathHealth, nil, nil, &out)
}

// Hash returns the state hash of the master the client talks to.
func (c *Client) Hash(ctx context.Context) (StateHash, error) {
	var out StateHash
	return out, c.do(ctx, http.MethodGet, PathHash, nil, nil, &out)
}

// Snapshot streams a consistent snapshot of the store into w.
func (c *Client) Snapshot(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, PathSnapshot, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("snapshot stream from %s broke: %w", c.base, err)
	}
	return nil
}
