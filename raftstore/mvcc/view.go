package mvcc

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/google/btree"
)

// View is an immutable view of a Tree at one revision. It is safe for concurrent use.
type View struct {
	bt        *btree.BTreeG[record]
	rev       uint64
	compacted uint64
	size      int64
	count     int
}

// Revision returns the revision the view was taken at.
func (v *View) Revision() uint64 { return v.rev }

// CompactRevision returns the view's compaction point.
func (v *View) CompactRevision() uint64 { return v.compacted }

// Size returns the bytes held by live keys and values at the view's revision.
func (v *View) Size() int64 { return v.size }

// Len returns the number of live keys at the view's revision.
func (v *View) Len() int { return v.count }

// checkRevision resolves rev (0 means the view's revision) and checks it is readable.
func (v *View) checkRevision(rev uint64) (uint64, error) {
	switch {
	case rev == 0:
		return v.rev, nil
	case rev < v.compacted:
		return 0, fmt.Errorf("%w: revision %d is below the compaction point %d", ErrCompacted, rev, v.compacted)
	case rev > v.rev:
		return 0, fmt.Errorf("%w: revision %d is above the current revision %d", ErrFutureRevision, rev, v.rev)
	}
	return rev, nil
}

// Get returns key's state at revision rev (0 for the view's revision).
func (v *View) Get(key string, rev uint64) (KeyValue, bool, error) {
	rev, err := v.checkRevision(rev)
	if err != nil {
		return KeyValue{}, false, err
	}
	r, ok := v.bt.Get(record{key: key})
	if !ok {
		return KeyValue{}, false, nil
	}
	kv, ok := r.at(rev)
	return kv, ok, nil
}

// Range calls fn with each key in [start, end) live at revision rev (0 for the view's
// revision), in ascending key order, until fn returns false. An empty end means no upper bound.
func (v *View) Range(start, end string, rev uint64, fn func(KeyValue) bool) error {
	rev, err := v.checkRevision(rev)
	if err != nil {
		return err
	}
	iter := func(r record) bool {
		if kv, ok := r.at(rev); ok {
			return fn(kv)
		}
		return true
	}
	if end == "" {
		v.bt.AscendGreaterOrEqual(record{key: start}, iter)
	} else {
		v.bt.AscendRange(record{key: start}, record{key: end}, iter)
	}
	return nil
}

// Count returns the number of keys in [start, end) live at the view's revision.
func (v *View) Count(start, end string) int {
	n := 0
	_ = v.Range(start, end, 0, func(KeyValue) bool { n++; return true })
	return n
}

// Hash returns a SHA-256 over every live key with its value and revisions, in key order. Two
// views at the same revision of correctly replicated stores have the same hash.
func (v *View) Hash() [sha256.Size]byte {
	h := sha256.New()
	_ = v.Range("", "", 0, func(kv KeyValue) bool {
		writeKV(h, kv)
		return true
	})
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func writeKV(h hash.Hash, kv KeyValue) {
	var buf [binary.MaxVarintLen64]byte
	for _, n := range []uint64{uint64(len(kv.Key)), uint64(len(kv.Value)), kv.CreateRevision, kv.ModRevision, kv.Version} {
		h.Write(buf[:binary.PutUvarint(buf[:], n)])
	}
	h.Write([]byte(kv.Key))
	h.Write(kv.Value)
}

// at returns the record's state at rev.
func (r record) at(rev uint64) (KeyValue, bool) {
	ver := r.head
	for ver != nil && ver.mod > rev {
		ver = ver.prev
	}
	if ver == nil || ver.deleted {
		return KeyValue{}, false
	}
	return ver.keyValue(r.key), true
}

// PrefixEnd returns the smallest key greater than every key with the given prefix, or "" when
// there is none (the prefix is empty or all 0xff bytes).
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
