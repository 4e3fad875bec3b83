package pods

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// backoff is the kubelet's per-key exponential back-off: the first failure passes, each later
// one within the window doubles the delay from base up to max, and a key whose last failure is
// older than 2*max starts again at base.
type backoff struct {
	clock     clock.PassiveClock
	base, max time.Duration

	mu      sync.Mutex // protects entries
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackoff(c clock.PassiveClock, base, max time.Duration) *backoff {
	return &backoff{clock: c, base: base, max: max, entries: map[string]*backoffEntry{}}
}

// inBackoffSince reports whether key must still wait after a failure at event, and until when.
func (b *backoff) inBackoffSince(key string, event time.Time) (bool, time.Time, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || event.Sub(e.lastUpdate) > 2*b.max {
		return false, time.Time{}, 0
	}
	until := event.Add(e.delay)
	return b.clock.Now().Before(until), until, e.delay
}

// next records a failure of key at event.
func (b *backoff) next(key string, event time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || event.Sub(e.lastUpdate) > 2*b.max {
		e = &backoffEntry{delay: b.base}
		b.entries[key] = e
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.lastUpdate = b.clock.Now()
}

// reset forgets key.
func (b *backoff) reset(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entries, key)
}

// gc forgets keys whose last failure is older than 2*max.
func (b *backoff) gc() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	for k, e := range b.entries {
		if now.Sub(e.lastUpdate) > 2*b.max {
			delete(b.entries, k)
		}
	}
}

// inBackoffSinceUpdate reports whether key must still wait after its last recorded failure,
// and until when: the image pull back-off.
func (b *backoff) inBackoffSinceUpdate(key string) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return false, time.Time{}
	}
	until := e.lastUpdate.Add(e.delay)
	return b.clock.Now().Before(until), until
}
