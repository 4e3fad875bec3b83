package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"syscall"
	"time"
)

// failureCooldown is how long a master that failed is passed over when another is available.
const failureCooldown = 5 * time.Second

// masterSet is the list of masters' API hosts (host:port) and the one requests currently go
// to. Requests stick to one master until it fails, then move to the next master that has not
// failed recently (or, when all have, to the one that failed longest ago).
type masterSet struct {
	now func() time.Time

	mu      sync.Mutex // protects hosts, current and failed
	hosts   []string
	current int
	failed  map[string]time.Time
}

// newMasterSet returns a set of the masters' URLs, starting with the first.
func newMasterSet(urls []string, now func() time.Time) (*masterSet, error) {
	s := &masterSet{now: now, failed: map[string]time.Time{}}
	if _, err := s.update(urls); err != nil {
		return nil, err
	}
	return s, nil
}

// hostsOf turns URLs into distinct host:port values, in order.
func hostsOf(urls []string) ([]string, error) {
	var hosts []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Scheme != "https" {
			return nil, fmt.Errorf("master URL %q is not an https:// URL", raw)
		}
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("no master URL")
	}
	return hosts, nil
}

// update replaces the list, keeping the current master when it is still listed, and reports
// whether the list changed.
func (s *masterSet) update(urls []string) (bool, error) {
	hosts, err := hostsOf(urls)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Equal(hosts, s.hosts) {
		return false, nil
	}
	cur := ""
	if len(s.hosts) > 0 {
		cur = s.hosts[s.current]
	}
	s.hosts, s.current = hosts, 0
	if i := slices.Index(hosts, cur); i >= 0 {
		s.current = i
	}
	return true, nil
}

// add appends a master that is not listed yet and reports whether it did.
func (s *masterSet) add(rawURL string) bool {
	hosts, err := hostsOf([]string{rawURL})
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.hosts, hosts[0]) {
		return false
	}
	s.hosts = append(s.hosts, hosts[0])
	return true
}

// urls returns the masters' URLs.
func (s *masterSet) urls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		out[i] = "https://" + h
	}
	return out
}

// len returns how many masters are known.
func (s *masterSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hosts)
}

// pick returns the master requests go to now.
func (s *masterSet) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hosts[s.current]
}

// fail records that host did not answer; if it is the current master, the next healthy one
// becomes current.
func (s *masterSet) fail(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.failed[host] = now
	if s.hosts[s.current] != host {
		return
	}
	best, bestAt := -1, time.Time{}
	for step := 1; step <= len(s.hosts); step++ {
		i := (s.current + step) % len(s.hosts)
		at, failed := s.failed[s.hosts[i]]
		if !failed || now.Sub(at) >= failureCooldown {
			s.current = i
			return
		}
		if best < 0 || at.Before(bestAt) {
			best, bestAt = i, at
		}
	}
	s.current = best
}

// failoverTransport sends each request to the current master of set and moves to the next one
// when the current one cannot be reached. Requests that were certainly not sent (dial errors)
// and reads are retried on the next master; other writes return their error, since the master
// may have applied them.
type failoverTransport struct {
	set  *masterSet
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *failoverTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	attempts := t.set.len()
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		host := t.set.pick()
		r := req.Clone(req.Context())
		r.URL.Host, r.Host = host, ""
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, lastErr
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, lastErr
			}
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil || !unreachable(err) {
			return nil, err
		}
		t.set.fail(host)
		if !notSent(err) && req.Method != http.MethodGet && req.Method != http.MethodHead {
			return nil, err
		}
	}
	return nil, lastErr
}

// unreachable tells whether err means the master could not be talked to.
func unreachable(err error) bool {
	var op *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err)
}

// notSent tells whether err happened before the request could be sent.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
