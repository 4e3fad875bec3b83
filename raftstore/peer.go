package raftstore

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/capstan-io/capstan/raftstore/internal/mux"
	"github.com/capstan-io/capstan/raftstore/internal/rpc"
)

// Methods of the peer RPC protocol. Numbers are wire format: append only.
const (
	methodApply      byte = 1 // forward a command to the leader
	methodReadIndex  byte = 2 // ask the leader for a read index
	methodStatus     byte = 3 // ask a member for its own status
	methodMembership byte = 4 // forward a membership change to the leader
)

// dialTimeout bounds connecting to a peer.
const dialTimeout = 2 * time.Second

func (s *Store) rpcHandlers() map[byte]rpc.Handler {
	return map[byte]rpc.Handler{
		methodApply:      s.handleApply,
		methodReadIndex:  s.handleReadIndex,
		methodStatus:     s.handleStatus,
		methodMembership: s.handleMembership,
	}
}

// Apply request: uvarint timeout in milliseconds, then the command.
func encodeApplyRequest(cmd []byte, timeout time.Duration) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(cmd)+binary.MaxVarintLen64), uint64(max(timeout.Milliseconds(), 1)))
	return append(b, cmd...)
}

func (s *Store) handleApply(ctx context.Context, payload []byte) ([]byte, error) {
	ms, n := binary.Uvarint(payload)
	if n <= 0 {
		return nil, errors.New("raftstore: malformed apply request")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
	defer cancel()
	r, err := s.applyLocal(ctx, payload[n:])
	return encodeApplyReply(r, err), nil
}

// Apply reply: an error code and message for the attempt (not leader, unknown outcome...), and
// when the code is 0 the state machine's result.
func encodeApplyReply(r *applyResult, attemptErr error) []byte {
	code, msg := encodeError(attemptErr)
	b := []byte{code}
	b = appendString(b, msg)
	if attemptErr == nil {
		b = append(b, encodeResult(r, true)...)
	}
	return b
}

func decodeApplyReply(b []byte) (*applyResult, error) {
	d := &decoder{b: b}
	code := d.byte()
	msg := string(d.bytes())
	if d.err != nil {
		return nil, fmt.Errorf("%w: malformed apply reply: %v", ErrUnknownOutcome, d.err)
	}
	if err := decodeError(code, msg); err != nil {
		return nil, err
	}
	r, err := decodeResult(d.b)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed apply reply: %v", ErrUnknownOutcome, err)
	}
	return r, nil
}

// encodeResult encodes a state machine result; withKV includes the failed compare's key.
func encodeResult(r *applyResult, withKV bool) []byte {
	var b []byte
	b = binary.AppendUvarint(b, r.res.Revision)
	b = appendBool(b, r.res.Succeeded)
	b = binary.AppendVarint(b, int64(r.res.FailedCompare))
	b = appendBool(b, r.res.FailedKVExists)
	code, msg := encodeError(r.err)
	b = append(b, code)
	b = appendString(b, msg)
	b = binary.AppendUvarint(b, uint64(len(r.res.Ops)))
	for _, op := range r.res.Ops {
		b = append(b, opFlags(op))
		b = binary.AppendUvarint(b, op.CreateRevision)
		b = binary.AppendUvarint(b, op.Version)
	}
	withKV = withKV && r.res.HasFailedKV
	b = appendBool(b, withKV)
	if withKV {
		kv := r.res.FailedKV
		b = appendString(b, kv.Key)
		b = binary.AppendUvarint(b, uint64(len(kv.Value)))
		b = append(b, kv.Value...)
		b = binary.AppendUvarint(b, kv.CreateRevision)
		b = binary.AppendUvarint(b, kv.ModRevision)
		b = binary.AppendUvarint(b, kv.Version)
	}
	return b
}

func decodeResult(b []byte) (*applyResult, error) {
	d := &decoder{b: b}
	r := &applyResult{}
	r.res.Revision = d.uvarint()
	r.res.Succeeded = d.byte() != 0
	r.res.FailedCompare = int(d.varint())
	r.res.FailedKVExists = d.byte() != 0
	code := d.byte()
	msg := string(d.bytes())
	r.err = decodeError(code, msg)
	if n := d.count(3); n > 0 {
		r.res.Ops = make([]OpResult, n)
		for i := range r.res.Ops {
			flags := d.byte()
			r.res.Ops[i] = OpResult{Existed: flags&1 != 0, Skipped: flags&2 != 0, CreateRevision: d.uvarint(), Version: d.uvarint()}
		}
	}
	if d.byte() != 0 {
		kv := KeyValue{Key: string(d.bytes()), Value: d.bytes()}
		kv.CreateRevision, kv.ModRevision, kv.Version = d.uvarint(), d.uvarint(), d.uvarint()
		r.res.FailedKV, r.res.HasFailedKV = kv, true
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return r, d.err
}

// opFlags packs an OpResult's booleans: bit 0 existed, bit 1 skipped.
func opFlags(op OpResult) byte {
	var f byte
	if op.Existed {
		f |= 1
	}
	if op.Skipped {
		f |= 2
	}
	return f
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Read index reply: error code, message, uvarint index.
func (s *Store) handleReadIndex(ctx context.Context, _ []byte) ([]byte, error) {
	ri, err := s.leaderReadIndex(ctx)
	code, msg := encodeError(err)
	b := appendString([]byte{code}, msg)
	return binary.AppendUvarint(b, ri), nil
}

func decodeReadIndexReply(b []byte) (uint64, error) {
	d := &decoder{b: b}
	code := d.byte()
	msg := string(d.bytes())
	ri := d.uvarint()
	if d.err != nil {
		return 0, fmt.Errorf("raftstore: malformed read index reply: %v", d.err)
	}
	if err := decodeError(code, msg); err != nil {
		return 0, err
	}
	return ri, nil
}

func (s *Store) handleStatus(context.Context, []byte) ([]byte, error) {
	return json.Marshal(s.LocalStatus())
}

// membershipRequest is a membership change forwarded to the leader.
type membershipRequest struct {
	Op      string `json:"op"`
	ID      string `json:"id"`
	Address string `json:"address,omitempty"`
	Force   bool   `json:"force,omitempty"`
}

type membershipReply struct {
	Code    uint8  `json:"code"`
	Message string `json:"message,omitempty"`
}

func (s *Store) handleMembership(ctx context.Context, payload []byte) ([]byte, error) {
	var req membershipRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("raftstore: malformed membership request: %v", err)
	}
	code, msg := encodeError(s.applyMembership(ctx, req))
	return json.Marshal(membershipReply{Code: code, Message: msg})
}

// peerClients keeps one RPC client per peer address.
type peerClients struct {
	tls *tls.Config

	mu      sync.Mutex // protects clients
	clients map[string]*rpc.Client
	closed  bool
}

func newPeerClients(tlsConf *tls.Config) *peerClients {
	return &peerClients{tls: tlsConf, clients: map[string]*rpc.Client{}}
}

// call invokes method on the member at addr, dialing it if needed.
func (p *peerClients) call(ctx context.Context, addr string, method byte, payload []byte) ([]byte, error) {
	c, err := p.client(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rpc.ErrNotSent, err)
	}
	out, err := c.Call(ctx, method, payload)
	if err != nil && c.Err() != nil {
		p.drop(addr, c)
	}
	return out, err
}

func (p *peerClients) client(addr string) (*rpc.Client, error) {
	p.mu.Lock()
	c := p.clients[addr]
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrStopped
	}
	if c != nil && c.Err() == nil {
		return c, nil
	}
	conn, err := mux.Dial(addr, protoRPC, p.tls, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	nc := rpc.NewClient(conn)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		nc.Close()
		return nil, ErrStopped
	}
	if old := p.clients[addr]; old != nil && old.Err() == nil {
		nc.Close() // another caller won the race
		return old, nil
	}
	p.clients[addr] = nc
	return nc, nil
}

func (p *peerClients) drop(addr string, c *rpc.Client) {
	p.mu.Lock()
	if p.clients[addr] == c {
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	c.Close()
}

func (p *peerClients) close() {
	p.mu.Lock()
	clients := p.clients
	p.clients, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
}
