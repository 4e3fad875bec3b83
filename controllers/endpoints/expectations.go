package endpoints

import (
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/clock"

	"github.com/capstan-io/capstan/controllers/internal/ownership"
)

// sliceRef names one EndpointSlice the controller created or deleted.
type sliceRef struct {
	name string
	uid  types.UID
}

// sliceExpectations records, per service key, the slices the controller
// created and deleted and the informer has not shown yet. Slices are made
// with generateName, so acting on a cache that has not seen a creation would
// create a duplicate; Sync waits instead, for at most
// ownership.ExpectationsTimeout. Updates need no record: they carry the
// resourceVersion and fail with a conflict on a stale cache.
//
// sliceExpectations is safe for concurrent use.
type sliceExpectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex // protects items
	items map[string]*pendingSlices
}

// pendingSlices is what one service waits for.
type pendingSlices struct {
	created []sliceRef
	deleted []sliceRef
	set     time.Time
}

// newSliceExpectations returns empty expectations reading time from clk.
func newSliceExpectations(clk clock.PassiveClock) *sliceExpectations {
	return &sliceExpectations{clock: clk, items: map[string]*pendingSlices{}}
}

// expect adds created and deleted slices to what key waits for.
func (e *sliceExpectations) expect(key string, created, deleted []sliceRef) {
	if len(created)+len(deleted) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.items[key]
	if p == nil {
		p = &pendingSlices{}
		e.items[key] = p
	}
	p.created = append(p.created, created...)
	p.deleted = append(p.deleted, deleted...)
	p.set = e.clock.Now()
}

// satisfied reports whether lister shows every slice key waits for: created
// slices present, deleted ones gone (or replaced under another UID). What it
// finds observed is forgotten; a record older than
// ownership.ExpectationsTimeout is dropped.
func (e *sliceExpectations) satisfied(key, ns string, lister discoverylisters.EndpointSliceLister) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.items[key]
	if !ok {
		return true
	}
	if e.clock.Since(p.set) > ownership.ExpectationsTimeout {
		delete(e.items, key)
		return true
	}
	present := func(r sliceRef) bool {
		s, err := lister.EndpointSlices(ns).Get(r.name)
		return err == nil && s.UID == r.uid
	}
	p.created = filterRefs(p.created, func(r sliceRef) bool { return !present(r) })
	p.deleted = filterRefs(p.deleted, present)
	if len(p.created)+len(p.deleted) == 0 {
		delete(e.items, key)
		return true
	}
	return false
}

// forget drops everything key waits for.
func (e *sliceExpectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// filterRefs returns the refs for which keep is true, reusing refs' array.
func filterRefs(refs []sliceRef, keep func(sliceRef) bool) []sliceRef {
	out := refs[:0]
	for _, r := range refs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// sliceService returns the "namespace/name" key of the service a managed
// slice belongs to, and false for slices this controller does not manage.
func sliceService(s *discoveryv1.EndpointSlice) (string, bool) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" || s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
		return "", false
	}
	return s.Namespace + "/" + name, true
}
