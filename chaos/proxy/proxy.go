package proxy

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Link is what happens to traffic between two masters.
type Link struct {
	// Blocked drops every byte.
	Blocked bool
	// Delay and Jitter hold each chunk of bytes for Delay ± Jitter (never less than 0).
	Delay, Jitter time.Duration
}

// Resolver names the master that opened a connection, given the connection's remote
// (client-side) address and the proxy's own address; "" means unknown.
type Resolver func(remote, local *net.TCPAddr) string

// Stats counts a mesh's traffic.
type Stats struct {
	// Connections counts accepted connections by link "from->to" ("?" for an unknown dialer).
	Connections map[string]int
	// Dropped counts bytes dropped on blocked links; Held counts connections held unanswered.
	Dropped int64
	Held    int64
	// Delayed counts chunks held back by a delay.
	Delayed int64
}

// Mesh is a set of proxies, one per master, that share link rules.
type Mesh struct {
	resolve Resolver

	mu       sync.Mutex // protects the fields below
	rng      *rand.Rand
	isolated map[string]bool
	delay    Link
	proxies  map[string]*listener
	conns    map[*conn]struct{}
	stats    Stats
	closed   bool

	dropped, held, delayed atomic.Int64
	wg                     sync.WaitGroup // accept loops and connections
}

// NewMesh returns an empty mesh. Its jitter comes from a generator seeded with seed.
func NewMesh(resolve Resolver, seed uint64) *Mesh {
	if resolve == nil {
		resolve = func(*net.TCPAddr, *net.TCPAddr) string { return "" }
	}
	return &Mesh{
		resolve: resolve, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		isolated: map[string]bool{}, proxies: map[string]*listener{}, conns: map[*conn]struct{}{},
		stats: Stats{Connections: map[string]int{}},
	}
}

// listener is the proxy in front of one master.
type listener struct {
	name   string
	ln     net.Listener
	target string
}

// Add starts a proxy for master name on listen (host:port; port 0 picks one) that forwards to
// target, and returns the address it listens on. Its accept loop runs until Close.
func (m *Mesh) Add(name, listen, target string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", ErrClosed
	}
	if _, dup := m.proxies[name]; dup {
		return "", fmt.Errorf("proxy: %s already has a proxy", name)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("proxy for %s: %w", name, err)
	}
	l := &listener{name: name, ln: ln, target: target}
	m.proxies[name] = l
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.accept(l)
	}()
	return ln.Addr().String(), nil
}

// Retarget points name's proxy at a new address (a master restarted on another port).
func (m *Mesh) Retarget(name, target string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.proxies[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, name)
	}
	l.target = target
	return nil
}

// Isolate blocks every link to and from name.
func (m *Mesh) Isolate(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		m.isolated[n] = true
	}
}

// SetDelay delays every link by delay ± jitter.
func (m *Mesh) SetDelay(delay, jitter time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay = Link{Delay: delay, Jitter: jitter}
}

// Heal removes every fault: blocked links open again and connections that lost bytes or were
// held are closed, so peers reconnect with clean streams.
func (m *Mesh) Heal() {
	m.mu.Lock()
	m.isolated = map[string]bool{}
	m.delay = Link{}
	var broken []*conn
	for c := range m.conns {
		if c.tainted.Load() {
			broken = append(broken, c)
		}
	}
	m.mu.Unlock()
	for _, c := range broken {
		c.close()
	}
}

// Link returns the rule for traffic between a dialer and a listener.
func (m *Mesh) Link(from, to string) Link {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.linkLocked(from, to)
}

func (m *Mesh) linkLocked(from, to string) Link {
	l := m.delay
	l.Blocked = m.isolated[from] || m.isolated[to]
	return l
}

// hold returns how long to hold a chunk on the link, with jitter.
func (m *Mesh) hold(l Link) time.Duration {
	d := l.Delay
	if l.Jitter > 0 {
		m.mu.Lock()
		d += time.Duration(m.rng.Int64N(int64(2*l.Jitter+1))) - l.Jitter
		m.mu.Unlock()
	}
	return max(d, 0)
}

// Stats returns the traffic counts so far.
func (m *Mesh) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Connections: map[string]int{}, Dropped: m.dropped.Load(), Held: m.held.Load(), Delayed: m.delayed.Load()}
	for k, v := range m.stats.Connections {
		s.Connections[k] = v
	}
	return s
}

// Names returns the masters with a proxy, sorted.
func (m *Mesh) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.proxies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close stops every proxy and closes every connection, and waits for their goroutines.
func (m *Mesh) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, l := range m.proxies {
		l.ln.Close()
	}
	conns := make([]*conn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	m.wg.Wait()
	return nil
}

// accept serves one listener until it is closed.
func (m *Mesh) accept(l *listener) {
	for {
		client, err := l.ln.Accept()
		if err != nil {
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.serve(l, client)
		}()
	}
}

// conn is one proxied connection.
type conn struct {
	from, to       string
	client, server net.Conn
	// tainted is set once bytes were dropped or the connection was held: it must not carry
	// traffic again.
	tainted atomic.Bool
	once    sync.Once
	done    chan struct{}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		if c.server != nil {
			c.server.Close()
		}
	})
}

// serve proxies one client connection until either side closes it.
func (m *Mesh) serve(l *listener, client net.Conn) {
	remote, _ := client.RemoteAddr().(*net.TCPAddr)
	local, _ := client.LocalAddr().(*net.TCPAddr)
	from := ""
	if remote != nil && local != nil {
		from = m.resolve(remote, local)
	}
	c := &conn{from: from, to: l.name, client: client, done: make(chan struct{})}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		client.Close()
		return
	}
	label := from
	if label == "" {
		label = "?"
	}
	m.stats.Connections[label+"->"+l.name]++
	m.conns[c] = struct{}{}
	blocked := m.linkLocked(from, l.name).Blocked
	target := l.target
	m.mu.Unlock()
	defer func() {
		c.close()
		m.mu.Lock()
		delete(m.conns, c)
		m.mu.Unlock()
	}()
	if blocked {
		// A partitioned network answers nothing: hold the connection, dropping what arrives,
		// until the link heals (Heal closes it) or the dialer gives up.
		c.tainted.Store(true)
		m.held.Add(1)
		n, _ := io.Copy(io.Discard, client)
		m.dropped.Add(n)
		return
	}
	server, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return // the master is down: the dialer sees its connection closed
	}
	c.server = server
	select {
	case <-c.done: // closed meanwhile
		server.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		m.pump(c, server, client, c.from, c.to)
	}()
	go func() {
		defer wg.Done()
		m.pump(c, client, server, c.to, c.from)
	}()
	wg.Wait()
}

// chunk is bytes waiting for their release time.
type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst for one direction of c, applying the link's rule to each chunk, until
// either side fails; then it closes c, which ends the other direction too.
func (m *Mesh) pump(c *conn, dst, src net.Conn, from, to string) {
	defer c.close()
	queue := make(chan chunk, 256)
	writerDone := make(chan struct{})
	go func() { // the writer exits when queue is closed or a write fails
		defer close(writerDone)
		for ch := range queue {
			if wait := time.Until(ch.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
			}
			if c.tainted.Load() {
				m.dropped.Add(int64(len(ch.data)))
				continue
			}
			if _, err := dst.Write(ch.data); err != nil {
				c.close()
				return
			}
		}
	}()
	defer func() {
		close(queue)
		<-writerDone
	}()
	var last time.Time
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			rule := m.Link(from, to)
			if rule.Blocked || c.tainted.Load() {
				c.tainted.Store(true)
				m.dropped.Add(int64(n))
			} else {
				due := time.Now()
				if rule.Delay > 0 || rule.Jitter > 0 {
					due = due.Add(m.hold(rule))
					m.delayed.Add(1)
				}
				if due.Before(last) {
					due = last // keep the stream in order
				}
				last = due
				select {
				case queue <- chunk{data: buf[:n], due: due}:
				case <-c.done:
					return
				}
			}
		}
		if err != nil {
			return // EOF or a reset: the connection ends either way
		}
	}
}
