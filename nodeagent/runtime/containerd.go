package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
)

// Containerd is the Runtime of real nodes: containers run by containerd (through its Go client,
// not CRI) and pod networks set up with CNI plugins. See the package documentation for the
// layout of its state and what the agent must do on startup.
type Containerd struct {
	cfg        Config
	client     *containerd.Client
	networks   *podNetworks
	loggerPath string
	stateLock  *os.File // flocked while the runtime is open

	locks keyedMutex // serialises work on one pod ("pod/<uid>") or one container ("ctr/<id>")

	iosMu sync.Mutex            // protects ios
	ios   map[string]*stdioConn // stdin and FIFO copying of running containers, by container ID

	evMu     sync.Mutex // protects evClosed and evLost, and sending on events
	events   chan Event
	evClosed bool
	evLost   bool // an event was dropped; an EventResync is owed

	stopEvents context.CancelFunc
	evLoop     sync.WaitGroup // the event loop goroutine
	handlers   sync.WaitGroup // exit handlers started by the event loop
	closeOnce  sync.Once
}

var _ Runtime = (*Containerd)(nil)

// New connects to containerd at cfg.Address, retrying until ctx ends (containerd may still be
// starting), loads the CNI configuration and starts following containerd's events. It reconnects
// the agent-side streams of running containers that need them (containers with stdin and no TTY).
// Close releases it; containers keep running.
func New(ctx context.Context, cfg Config) (*Containerd, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: invalid configuration: %w", err)
	}
	r := &Containerd{cfg: cfg, ios: map[string]*stdioConn{}, events: make(chan Event, cfg.EventBuffer)}
	for _, dir := range []string{r.sandboxDir(), r.fifoDir(), r.ipamDir(), cfg.NetNSDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	lock, err := os.OpenFile(filepath.Join(cfg.StateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s", ErrStateLocked, cfg.StateDir)
	}
	r.stateLock = lock
	ok := false
	defer func() {
		if !ok {
			r.release()
		}
	}()

	r.loggerPath = cfg.LoggerPath
	if r.loggerPath == "" {
		if r.loggerPath, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("runtime: locate the logger executable: %w", err)
		}
	}
	if r.client, err = dial(ctx, cfg); err != nil {
		return nil, err
	}
	if r.networks, err = newPodNetworks(cfg.Network, r.ipamDir()); err != nil {
		return nil, err
	}
	if cfg.Network.IPMasq && len(cfg.Network.ConfList) == 0 {
		if err := masqueradeSubnet(ctx, cfg.Network); err != nil {
			return nil, err
		}
	}
	// Subscribe before anything is listed, so that a caller who lists after New misses no event.
	evctx, cancel := context.WithCancel(context.Background())
	r.stopEvents = cancel
	stream, err := r.firstSubscription(ctx, evctx)
	if err != nil {
		return nil, err
	}
	if err := r.restoreIO(ctx); err != nil {
		return nil, err
	}
	r.evLoop.Add(1)
	go r.runEvents(evctx, stream)
	ok = true
	return r, nil
}

// firstSubscription subscribes to events for the life of evctx, retrying until ctx ends.
func (r *Containerd) firstSubscription(ctx, evctx context.Context) (eventsapi.Events_SubscribeClient, error) {
	backoff := eventBackoffMin
	for {
		stream, err := r.subscribe(evctx)
		if err == nil {
			return stream, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: subscribe to events: %v", ErrUnavailable, err)
		case <-t.C:
		}
		backoff = min(2*backoff, eventBackoffMax)
	}
}

// dial connects to containerd, retrying with back-off until ctx ends (RUNTIME.md pitfall 8: the
// client blocks for the whole dial timeout while the daemon is down).
func dial(ctx context.Context, cfg Config) (*containerd.Client, error) {
	backoff := 50 * time.Millisecond
	for {
		c, err := containerd.New(cfg.Address, containerd.WithDefaultNamespace(cfg.Namespace), containerd.WithTimeout(cfg.DialTimeout))
		if err == nil {
			return c, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, cfg.Address, err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Close stops following events, closes the Events channel and disconnects. Containers, their
// logging and their sandboxes are not affected.
func (r *Containerd) Close() error {
	r.closeOnce.Do(func() {
		r.stopEvents()
		r.evLoop.Wait()
		r.handlers.Wait()
		r.evMu.Lock()
		r.evClosed = true
		close(r.events)
		r.evMu.Unlock()
		r.release()
	})
	return nil
}

// release frees what New acquired.
func (r *Containerd) release() {
	if r.stopEvents != nil {
		r.stopEvents()
	}
	r.iosMu.Lock()
	for id, s := range r.ios {
		s.detach()
		delete(r.ios, id)
	}
	r.iosMu.Unlock()
	if r.client != nil {
		r.client.Close()
	}
	r.stateLock.Close()
}

// Version implements Runtime.
func (r *Containerd) Version(ctx context.Context) (string, string, error) {
	v, err := r.client.Version(r.nsctx(ctx))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return "containerd", v.Version, nil
}

// nsctx returns ctx with the runtime's containerd namespace.
func (r *Containerd) nsctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

func (r *Containerd) sandboxDir() string { return filepath.Join(r.cfg.StateDir, "sandboxes") }
func (r *Containerd) fifoDir() string    { return filepath.Join(r.cfg.StateDir, "fifo") }
func (r *Containerd) ipamDir() string    { return filepath.Join(r.cfg.StateDir, "ipam") }

// translate maps containerd errors onto the package's sentinels, naming what.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errdefs.IsNotFound(err):
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case errdefs.IsAlreadyExists(err):
		return fmt.Errorf("%w: %s", ErrAlreadyExists, what)
	case errdefs.IsUnavailable(err):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("runtime: %s: %w", what, err)
}

// keyedMutex is a set of mutexes created on demand, one per key.
type keyedMutex struct {
	mu sync.Mutex // protects m
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
