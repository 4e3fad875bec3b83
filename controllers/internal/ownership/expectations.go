package ownership

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long unfulfilled expectations hold a controller
// back before they are considered expired, as in Kubernetes: a watch event that
// never arrives must not stall an owner forever.
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per owner key ("namespace/name"), how many creations
// and which deletions the controller has issued but not yet seen reflected in
// its informer. It combines Kubernetes' ControllerExpectations and
// UIDTrackingControllerExpectations: creations are counted, deletions are
// tracked by pod key so that a pod seen both with a deletionTimestamp and as
// deleted is observed only once.
//
// Expectations is safe for concurrent use: sync workers set expectations and
// informer event handlers lower them.
type Expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex // protects items
	items map[string]*expectation
}

// expectation is the pending work recorded for one owner.
type expectation struct {
	adds     int
	deleting map[string]struct{} // pod keys whose deletion is not yet observed
	// set is when the expectation was last set; it expires ExpectationsTimeout later.
	set time.Time
}

// NewExpectations returns empty Expectations that read time from clk.
func NewExpectations(clk clock.PassiveClock) *Expectations {
	return &Expectations{clock: clk, items: make(map[string]*expectation)}
}

// Satisfied reports whether the controller may act on key: nothing is
// recorded for it, everything recorded has been observed, or the record is
// older than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deleting) == 0 {
		return true
	}
	return e.clock.Since(x.set) > ExpectationsTimeout
}

// ExpectCreations replaces key's expectations with n pending creations and
// no pending deletions.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, set: e.clock.Now()}
}

// ExpectDeletions replaces key's expectations with the deletion of the pods
// named by podKeys ("namespace/name") and no pending creations.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	deleting := make(map[string]struct{}, len(podKeys))
	for _, k := range podKeys {
		deleting[k] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{deleting: deleting, set: e.clock.Now()}
}

// CreationObserved records that one creation expected for key has been seen
// (or will never be, because the request failed).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved records that the deletion of podKey expected for key has
// been seen (or will never be). Pods that were not expected to be deleted are
// ignored, so observing the same pod twice lowers the expectation once.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deleting, podKey)
	}
}

// Delete forgets everything recorded for key, for example when its owner is
// deleted, so that a new owner with the same name starts clean.
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// Pending returns the creations and deletions still expected for key; it is
// meant for logs and tests.
func (e *Expectations) Pending(key string) (adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return max(x.adds, 0), len(x.deleting)
	}
	return 0, 0
}
