package registry

import (
	"bytes"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// codec turns objects into stored values and back. Values are Kubernetes protobuf (the
// "k8s\x00" envelope), as kube-apiserver stores them in etcd: smaller and faster than JSON.
type codec struct {
	pb *protobuf.Serializer
}

func newCodec() *codec { return &codec{pb: protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)} }

// encode serialises obj as gvk. obj's resourceVersion must already be cleared.
func (c *codec) encode(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	if err := c.pb.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("registry: encode %s: %w", gvk.Kind, err)
	}
	return buf.Bytes(), nil
}

// decode parses a stored value.
func (c *codec) decode(data []byte) (runtime.Object, error) {
	obj, gvk, err := c.pb.Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("registry: decode stored object: %w", err)
	}
	if gvk != nil {
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
	}
	return obj, nil
}

// decodeCache keeps recently decoded objects, with their resourceVersion set, by key and
// revision, so that the many watchers of
// a resource decode each event once. Cached objects are shared: callers must not modify them.
type decodeCache struct {
	mu    sync.Mutex // protects items, order and next
	items map[cacheKey]runtime.Object
	order []cacheKey // ring of inserted keys, for eviction
	next  int
}

type cacheKey struct {
	key string
	rev uint64
}

func newDecodeCache(size int) *decodeCache {
	return &decodeCache{items: make(map[cacheKey]runtime.Object, size), order: make([]cacheKey, size)}
}

// get returns the decoded value of key at rev, decoding and caching it on a miss.
func (d *decodeCache) get(c *codec, key string, rev uint64, data []byte) (runtime.Object, error) {
	k := cacheKey{key, rev}
	d.mu.Lock()
	obj, ok := d.items[k]
	d.mu.Unlock()
	if ok {
		return obj, nil
	}
	obj, err := c.decode(data)
	if err != nil {
		return nil, err
	}
	setRV(obj, rev)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.items[k]; !ok {
		if old := d.order[d.next]; old.key != "" {
			delete(d.items, old)
		}
		d.order[d.next] = k
		d.next = (d.next + 1) % len(d.order)
		d.items[k] = obj
	}
	return obj, nil
}
