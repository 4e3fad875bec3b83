package mvcc

import (
	"fmt"

	"github.com/google/btree"
)

// KeyValue is the state of one key at a revision.
type KeyValue struct {
	// Key is the full key.
	Key string
	// Value is the stored value. Callers must not modify it: it is shared with the index.
	Value []byte
	// CreateRevision is the revision that created the key (since its last deletion).
	CreateRevision uint64
	// ModRevision is the revision of the last write to the key.
	ModRevision uint64
	// Version counts the writes since the key was created; it is 1 after the create.
	Version uint64
}

// version is one immutable version of a key. Versions are shared between the writer and every
// View, so they are never modified after being linked into a record.
type version struct {
	value   []byte
	create  uint64
	mod     uint64
	ver     uint64
	deleted bool     // a tombstone written at mod
	prev    *version // the next older version, or nil
}

// record is the B-tree item: a key and its newest version.
type record struct {
	key  string
	head *version
}

func lessRecord(a, b record) bool { return a.key < b.key }

// btreeDegree is the B-tree fan-out; 32 keeps nodes around a few cache lines of items.
const btreeDegree = 32

// Tree is the mutable index. It is not safe for concurrent use: one goroutine writes it and
// publishes Views for readers.
type Tree struct {
	bt        *btree.BTreeG[record]
	rev       uint64
	compacted uint64
	size      int64 // bytes of live keys and values
	count     int   // live keys
	// history lists keys that may hold versions a compaction can drop. A key can appear more
	// than once; Compact deduplicates.
	history []string
}

// NewTree returns an empty tree at revision 0.
func NewTree() *Tree {
	return &Tree{bt: btree.NewG[record](btreeDegree, lessRecord)}
}

// Revision returns the revision of the last write or SetRevision.
func (t *Tree) Revision() uint64 { return t.rev }

// CompactRevision returns the compaction point: reads below it fail with ErrCompacted.
func (t *Tree) CompactRevision() uint64 { return t.compacted }

// Size returns the bytes held by live keys and their values.
func (t *Tree) Size() int64 { return t.size }

// Count returns the number of live keys.
func (t *Tree) Count() int { return t.count }

// SetRevision advances the tree's revision without writing a key (for entries that change no
// key). It panics if rev would go backwards: revisions are Raft indexes and only grow.
func (t *Tree) SetRevision(rev uint64) {
	if rev < t.rev {
		panic(fmt.Sprintf("mvcc: revision going backwards: %d < %d", rev, t.rev))
	}
	t.rev = rev
}

// Get returns the current state of key.
func (t *Tree) Get(key string) (KeyValue, bool) {
	r, ok := t.bt.Get(record{key: key})
	if !ok || r.head.deleted {
		return KeyValue{}, false
	}
	return r.head.keyValue(key), true
}

// Put writes value under key at revision rev and returns the previous state, if any, and the
// new one. rev must not be lower than the tree's revision.
func (t *Tree) Put(key string, value []byte, rev uint64) (prev KeyValue, existed bool, kv KeyValue) {
	t.SetRevision(rev)
	old, _ := t.bt.Get(record{key: key})
	v := &version{value: value, mod: rev, create: rev, ver: 1, prev: old.head}
	if old.head != nil && !old.head.deleted {
		prev, existed = old.head.keyValue(key), true
		v.create = old.head.create
		v.ver = old.head.ver + 1
		t.size -= int64(len(old.head.value))
	} else {
		t.size += int64(len(key))
		t.count++
	}
	t.size += int64(len(value))
	t.bt.ReplaceOrInsert(record{key: key, head: v})
	if old.head != nil {
		t.history = append(t.history, key)
	}
	return prev, existed, v.keyValue(key)
}

// Delete removes key at revision rev, leaving a tombstone, and returns its previous state.
// Deleting an absent key changes nothing but the revision.
func (t *Tree) Delete(key string, rev uint64) (prev KeyValue, existed bool) {
	t.SetRevision(rev)
	old, ok := t.bt.Get(record{key: key})
	if !ok || old.head.deleted {
		return KeyValue{}, false
	}
	prev = old.head.keyValue(key)
	t.size -= int64(len(key) + len(old.head.value))
	t.count--
	t.bt.ReplaceOrInsert(record{key: key, head: &version{mod: rev, deleted: true, prev: old.head}})
	t.history = append(t.history, key)
	return prev, true
}

// Load inserts a live key with the given revisions, for rebuilding a tree from a snapshot.
// It does not change the tree's revision.
func (t *Tree) Load(kv KeyValue) {
	old, ok := t.bt.ReplaceOrInsert(record{key: kv.Key, head: &version{
		value: kv.Value, create: kv.CreateRevision, mod: kv.ModRevision, ver: kv.Version,
	}})
	if ok && !old.head.deleted {
		t.size -= int64(len(old.key) + len(old.head.value))
		t.count--
	}
	t.size += int64(len(kv.Key) + len(kv.Value))
	t.count++
}

// SetCompacted sets the compaction point without dropping history, for a tree rebuilt from a
// snapshot that holds only the latest versions.
func (t *Tree) SetCompacted(rev uint64) {
	if rev > t.compacted {
		t.compacted = rev
	}
}

// Compact drops the versions that no read at a revision >= rev can see and returns how many
// keys it rewrote. rev is clamped to the tree's revision; compacting to an older point than
// the current one does nothing.
func (t *Tree) Compact(rev uint64) int {
	if rev > t.rev {
		rev = t.rev
	}
	if rev <= t.compacted {
		return 0
	}
	t.compacted = rev
	seen := make(map[string]struct{}, len(t.history))
	var keep []string
	rewritten := 0
	for _, key := range t.history {
		if _, dup := seen[key]; dup {
			continue
		}
		seen[key] = struct{}{}
		r, ok := t.bt.Get(record{key: key})
		if !ok {
			continue
		}
		head, changed := compactChain(r.head, rev)
		if changed {
			rewritten++
			if head == nil {
				t.bt.Delete(r)
				continue
			}
			t.bt.ReplaceOrInsert(record{key: key, head: head})
		}
		if head.prev != nil || head.deleted {
			keep = append(keep, key)
		}
	}
	t.history = keep
	return rewritten
}

// compactChain returns the chain that reads at revisions >= rev still need, copying the
// versions it keeps so that Views sharing the old chain are unaffected. It returns nil when the
// key is a tombstone no read can see.
func compactChain(head *version, rev uint64) (*version, bool) {
	// Find the newest version at or below rev: it is the oldest one still visible.
	var newer []*version
	v := head
	for v != nil && v.mod > rev {
		newer = append(newer, v)
		v = v.prev
	}
	if v == nil || (v.prev == nil && !v.deleted) {
		return head, false // nothing older than what rev can see
	}
	var tail *version
	if !v.deleted {
		c := *v
		c.prev = nil
		tail = &c
	}
	for i := len(newer) - 1; i >= 0; i-- {
		c := *newer[i]
		c.prev = tail
		tail = &c
	}
	return tail, true
}

// View returns an immutable view of the tree as it is now. It costs O(1); later writes to the
// tree copy the nodes they touch.
func (t *Tree) View() *View {
	return &View{bt: t.bt.Clone(), rev: t.rev, compacted: t.compacted, size: t.size, count: t.count}
}

func (v *version) keyValue(key string) KeyValue {
	return KeyValue{Key: key, Value: v.value, CreateRevision: v.create, ModRevision: v.mod, Version: v.ver}
}
