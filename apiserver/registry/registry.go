package registry

import (
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
	"github.com/capstan-io/capstan/raftstore"
)

// Backend is the part of raftstore the registry needs; *raftstore.Store implements it.
type Backend interface {
	Txn(ctx context.Context, t raftstore.Txn) (raftstore.TxnResult, error)
	Get(ctx context.Context, key string, opts raftstore.ReadOptions) (raftstore.KeyValue, bool, uint64, error)
	List(ctx context.Context, prefix string, opts raftstore.ListOptions) (raftstore.ListResult, error)
	Watch(prefix string, from uint64) (*raftstore.Watcher, error)
	Revision() uint64
}

var _ Backend = (*raftstore.Store)(nil)

// Config configures a Registry.
type Config struct {
	// MaxObjectSize is the largest encoded object accepted (the store's value limit).
	MaxObjectSize int
	// BookmarkInterval is how often idle watches that asked for bookmarks receive one.
	BookmarkInterval time.Duration
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// DefaultConfig returns the limits Capstan serves with.
func DefaultConfig() Config {
	return Config{MaxObjectSize: raftstore.DefaultConfig().MaxValueSize, BookmarkInterval: 30 * time.Second, Now: time.Now}
}

// Registry holds the Store of every served resource.
type Registry struct {
	cfg     Config
	backend Backend
	codec   *codec
	cache   *decodeCache
	patcher *patch.Manager
	stores  map[schema.GroupResource]*Store
	ordered []*Store
}

// New returns a registry serving resources from backend.
func New(backend Backend, cfg Config, resources []*Resource) (*Registry, error) {
	if cfg.MaxObjectSize <= 0 || cfg.BookmarkInterval <= 0 || cfg.Now == nil {
		return nil, fmt.Errorf("registry: invalid config: MaxObjectSize %d and BookmarkInterval %s must be positive and Now set", cfg.MaxObjectSize, cfg.BookmarkInterval)
	}
	p, err := patch.New(scheme.Scheme)
	if err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, backend: backend, codec: newCodec(), cache: newDecodeCache(8192), patcher: p, stores: map[schema.GroupResource]*Store{}}
	for _, res := range resources {
		gr := res.GroupResource()
		if _, dup := r.stores[gr]; dup {
			return nil, fmt.Errorf("registry: %s registered twice", gr)
		}
		s, err := newStore(r, res)
		if err != nil {
			return nil, err
		}
		r.stores[gr] = s
		r.ordered = append(r.ordered, s)
	}
	sort.SliceStable(r.ordered, func(i, j int) bool { return r.ordered[i].res.Group < r.ordered[j].res.Group })
	return r, nil
}

// Store returns the store of a resource.
func (r *Registry) Store(gr schema.GroupResource) (*Store, bool) {
	s, ok := r.stores[gr]
	return s, ok
}

// MustStore returns the store of a resource that is known to be registered.
func (r *Registry) MustStore(gr schema.GroupResource) *Store {
	s, ok := r.stores[gr]
	if !ok {
		panic(fmt.Sprintf("registry: %s is not registered", gr))
	}
	return s
}

// Stores returns every store, core group first.
func (r *Registry) Stores() []*Store { return r.ordered }

// Backend returns the store the registry writes to.
func (r *Registry) Backend() Backend { return r.backend }

// newObject returns an empty object of the kind.
func newObject(gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("registry: %s is not a known kind: %w", gvk, err)
	}
	return obj, nil
}
