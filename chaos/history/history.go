package history

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"
	"time"
)

// Kind is what an operation did.
type Kind string

// Operation kinds of the object workload.
const (
	// Create creates an object with a fresh value.
	Create Kind = "create"
	// Update replaces an object's value; PrecondRV, when not 0, is the resourceVersion it
	// must still have.
	Update Kind = "update"
	// Delete removes an object; PrecondRV, when not 0, is the resourceVersion it must still have.
	Delete Kind = "delete"
	// Get reads one object linearizably.
	Get Kind = "get"
	// List reads every object of the workload linearizably.
	List Kind = "list"
)

// IsWrite reports whether operations of kind k change state.
func (k Kind) IsWrite() bool { return k == Create || k == Update || k == Delete }

// Outcome is how an operation ended, as far as the client can tell.
type Outcome string

// Outcomes.
const (
	// OK is a success.
	OK Outcome = "ok"
	// Conflict is 409 Conflict: the precondition's resourceVersion was stale.
	Conflict Outcome = "conflict"
	// Exists is 409 AlreadyExists from a create.
	Exists Outcome = "exists"
	// NotFound is 404 Not Found.
	NotFound Outcome = "notfound"
	// Failed means the request was definitely not applied (503, a refused connection, 4xx).
	Failed Outcome = "failed"
	// Unknown means the request may or may not have been applied (a timeout, a broken
	// connection after the request was sent, 504, 500).
	Unknown Outcome = "unknown"
)

// Item is one object as a read or the final state saw it.
type Item struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	RV    uint64 `json:"rv"`
}

// Op is one client operation.
type Op struct {
	// ID numbers the operation in the history.
	ID int `json:"id"`
	// Client identifies the client; a client whose request timed out takes a new ID, so one
	// ID never has two requests in flight.
	Client int `json:"client"`
	// Master is the master the request was sent to.
	Master string `json:"master"`
	Kind   Kind   `json:"kind"`
	Key    string `json:"key,omitempty"`
	// Value is the unique value written (create, update) or the value read (get).
	Value string `json:"value,omitempty"`
	// PrecondRV is the resourceVersion precondition of an update or delete; 0 means none.
	PrecondRV uint64 `json:"precondRV,omitempty"`
	// Call and Return are when the request was sent and when its answer (or error) arrived.
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Outcome is how it ended; Status the HTTP status, when there was one.
	Outcome Outcome `json:"outcome"`
	Status  int     `json:"status,omitempty"`
	// RV is the resourceVersion the answer carried: the object's after a write or a get, the
	// list's for a list.
	RV uint64 `json:"rv,omitempty"`
	// Items are a list's objects.
	Items []Item `json:"items,omitempty"`
	// Err is the error text, for people.
	Err string `json:"err,omitempty"`
}

// Event types of a watch stream, as Kubernetes names them.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
)

// Event is one event a watch stream delivered.
type Event struct {
	Type  string `json:"type"`
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	RV    uint64 `json:"rv"`
	// At is when the client received it.
	At int64 `json:"at"`
}

// Stream is one watch request: from StartRV until it ended.
type Stream struct {
	ID int `json:"id"`
	// Watcher names the watching client; one watcher opens a new stream after each ends.
	Watcher string `json:"watcher"`
	Master  string `json:"master"`
	// StartRV is the resourceVersion the watch started after.
	StartRV uint64  `json:"startRV"`
	Opened  int64   `json:"opened"`
	Events  []Event `json:"events,omitempty"`
	Closed  int64   `json:"closed"`
	// Expired is set when the stream ended with 410 Gone; EndErr says why it ended otherwise.
	Expired bool   `json:"expired,omitempty"`
	EndErr  string `json:"endErr,omitempty"`
}

// LastRV returns the highest resourceVersion the stream vouched for: its last event or
// bookmark, or StartRV when it delivered none.
func (s *Stream) LastRV() uint64 {
	last := s.StartRV
	for _, e := range s.Events {
		last = max(last, e.RV)
	}
	return last
}

// Fault is one fault the run injected.
type Fault struct {
	Kind string `json:"kind"`
	// Target names what it hit (a master, a link).
	Target string `json:"target,omitempty"`
	// Inject is when the fault took effect; Healed when it was undone (0 if never).
	Inject int64 `json:"inject"`
	Healed int64 `json:"healed,omitempty"`
	// Recovered is when the cluster was healthy again after Healed.
	Recovered int64 `json:"recovered,omitempty"`
	// Skipped says why the fault could not run on this machine.
	Skipped string `json:"skipped,omitempty"`
	// Err is an injection or healing failure.
	Err string `json:"err,omitempty"`
	// Note records what the fault observed (a new leader, a snapshot installed).
	Note string `json:"note,omitempty"`
}

// Final is the state one master reported at the end of the run, after every fault was healed.
type Final struct {
	Master string `json:"master"`
	// RV is the exact resourceVersion the list was read at.
	RV    uint64 `json:"rv"`
	Items []Item `json:"items,omitempty"`
	// HashRevision and Hash are the master's whole-store state hash (admin API) when every
	// master reported the same revision.
	HashRevision uint64 `json:"hashRevision,omitempty"`
	Hash         string `json:"hash,omitempty"`
	Err          string `json:"err,omitempty"`
}

// History is everything a run recorded.
type History struct {
	// Started is the wall-clock time of time 0.
	Started time.Time `json:"started"`
	Ops     []Op      `json:"ops"`
	Streams []Stream  `json:"streams"`
	Faults  []Fault   `json:"faults"`
	Finals  []Final   `json:"finals,omitempty"`
	// Keys are the workload's object keys.
	Keys []string `json:"keys,omitempty"`
	// Deployment is the Deployment workload's end state; Bindings are the pod bindings its
	// pod watch saw.
	Deployment *DeploymentFinal `json:"deployment,omitempty"`
	Bindings   []Binding        `json:"bindings,omitempty"`
}

// Sort orders operations by call time and streams by opening time, and renumbers them.
func (h *History) Sort() {
	sort.SliceStable(h.Ops, func(i, j int) bool { return h.Ops[i].Call < h.Ops[j].Call })
	for i := range h.Ops {
		h.Ops[i].ID = i
	}
	sort.SliceStable(h.Streams, func(i, j int) bool { return h.Streams[i].Opened < h.Streams[j].Opened })
	for i := range h.Streams {
		h.Streams[i].ID = i
	}
	sort.SliceStable(h.Faults, func(i, j int) bool { return h.Faults[i].Inject < h.Faults[j].Inject })
}

// Write writes h as JSON.
func (h *History) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(h)
}

// Read reads a history written by Write.
func Read(r io.Reader) (*History, error) {
	var h History
	if err := json.NewDecoder(r).Decode(&h); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &h, nil
}

// ReadFile reads a history file.
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Never is the Return time of an operation whose effect may come at any later time.
const Never = math.MaxInt64

// Recorder collects a history from many goroutines. Its methods are safe for concurrent use.
type Recorder struct {
	start time.Time

	mu      sync.Mutex // protects h and nextID
	h       History
	nextID  int
	clients int
}

// NewRecorder starts a recording whose time 0 is now.
func NewRecorder() *Recorder {
	now := time.Now()
	return &Recorder{start: now, h: History{Started: now}}
}

// Now returns the time since the recording started, in nanoseconds (monotonic).
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Time converts a recorder time back to wall-clock time.
func (r *Recorder) Time(t int64) time.Time { return r.start.Add(time.Duration(t)) }

// NewClientID returns an unused client ID.
func (r *Recorder) NewClientID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.clients
	r.clients++
	return id
}

// AddOp records a finished operation.
func (r *Recorder) AddOp(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.ID = r.nextID
	r.nextID++
	r.h.Ops = append(r.h.Ops, op)
}

// AddStream records a watch stream that has ended.
func (r *Recorder) AddStream(s Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Streams = append(r.h.Streams, s)
}

// AddFault records a fault.
func (r *Recorder) AddFault(f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Faults = append(r.h.Faults, f)
}

// SetFinals records the masters' final states.
func (r *Recorder) SetFinals(finals []Final) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Finals = finals
}

// SetKeys records the workload's keys.
func (r *Recorder) SetKeys(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Keys = append([]string(nil), keys...)
}

// History returns a sorted copy of what was recorded so far.
func (r *Recorder) History() *History {
	r.mu.Lock()
	h := History{Started: r.h.Started, Keys: r.h.Keys}
	h.Ops = append(h.Ops, r.h.Ops...)
	h.Streams = append(h.Streams, r.h.Streams...)
	h.Faults = append(h.Faults, r.h.Faults...)
	h.Finals = append(h.Finals, r.h.Finals...)
	h.Deployment = r.h.Deployment
	h.Bindings = append(h.Bindings, r.h.Bindings...)
	r.mu.Unlock()
	h.Sort()
	return &h
}

// Binding is one (pod, node) pair a pod watch observed; Node is "" for a pod seen unbound.
type Binding struct {
	UID  string `json:"uid"`
	Pod  string `json:"pod"`
	Node string `json:"node,omitempty"`
	// Master served the observation; At is when it arrived.
	Master string `json:"master"`
	At     int64  `json:"at"`
}

// DeploymentActions counts the Deployment workload's scale and roll requests by outcome.
type DeploymentActions struct {
	Scales    int `json:"scales"`
	Rolls     int `json:"rolls"`
	Conflicts int `json:"conflicts"`
	Unknown   int `json:"unknown"`
	Failed    int `json:"failed"`
}

// ReplicaSetState is one ReplicaSet of the Deployment as the final check read it.
type ReplicaSetState struct {
	Name string `json:"name"`
	// Template is the ReplicaSet's pod-template revision label.
	Template string `json:"template"`
	// Spec and Status are its .spec.replicas and .status.replicas.
	Spec   int32 `json:"spec"`
	Status int32 `json:"status"`
}

// DeploymentFinal is the Deployment workload's end state, read after every fault was healed.
type DeploymentFinal struct {
	Name string `json:"name"`
	// Replicas and Template are the Deployment's desired replicas and pod-template revision.
	Replicas           int32             `json:"replicas"`
	Template           string            `json:"template"`
	Generation         int64             `json:"generation"`
	ObservedGeneration int64             `json:"observedGeneration"`
	ReplicaSets        []ReplicaSetState `json:"replicaSets,omitempty"`
	// Converged is true when exactly one ReplicaSet has the current template with spec and
	// status replicas equal to the Deployment's, every other is at 0, and the Deployment's
	// status observed its generation; WaitedMs is how long the final check waited for it.
	Converged bool              `json:"converged"`
	WaitedMs  float64           `json:"waitedMs"`
	Actions   DeploymentActions `json:"actions"`
	Err       string            `json:"err,omitempty"`
}

// SetDeployment records the Deployment workload's end state and pod bindings.
func (r *Recorder) SetDeployment(f DeploymentFinal, bindings []Binding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Deployment = &f
	r.h.Bindings = append([]Binding(nil), bindings...)
}
