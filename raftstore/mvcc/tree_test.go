package mvcc

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// op is one step of a scripted tree history.
type op struct {
	put, del string
	value    string
	rev      uint64
	compact  uint64
}

func build(t *testing.T, ops []op) *Tree {
	t.Helper()
	tr := NewTree()
	for _, o := range ops {
		switch {
		case o.put != "":
			tr.Put(o.put, []byte(o.value), o.rev)
		case o.del != "":
			tr.Delete(o.del, o.rev)
		default:
			tr.Compact(o.compact)
		}
	}
	return tr
}

func TestViewGetAtRevision(t *testing.T) {
	history := []op{
		{put: "/a", value: "1", rev: 2},
		{put: "/a", value: "2", rev: 4},
		{del: "/a", rev: 6},
		{put: "/a", value: "3", rev: 8},
	}
	tests := []struct {
		name    string
		compact uint64
		rev     uint64
		want    KeyValue
		found   bool
		err     error
	}{
		{name: "before create", rev: 1},
		{name: "created", rev: 2, found: true, want: KeyValue{Key: "/a", Value: []byte("1"), CreateRevision: 2, ModRevision: 2, Version: 1}},
		{name: "between writes", rev: 3, found: true, want: KeyValue{Key: "/a", Value: []byte("1"), CreateRevision: 2, ModRevision: 2, Version: 1}},
		{name: "updated", rev: 5, found: true, want: KeyValue{Key: "/a", Value: []byte("2"), CreateRevision: 2, ModRevision: 4, Version: 2}},
		{name: "deleted", rev: 6},
		{name: "recreated starts a new generation", rev: 8, found: true, want: KeyValue{Key: "/a", Value: []byte("3"), CreateRevision: 8, ModRevision: 8, Version: 1}},
		{name: "latest", rev: 0, found: true, want: KeyValue{Key: "/a", Value: []byte("3"), CreateRevision: 8, ModRevision: 8, Version: 1}},
		{name: "future", rev: 9, err: ErrFutureRevision},
		{name: "compacted", compact: 5, rev: 4, err: ErrCompacted},
		{name: "at compaction point", compact: 5, rev: 5, found: true, want: KeyValue{Key: "/a", Value: []byte("2"), CreateRevision: 2, ModRevision: 4, Version: 2}},
		{name: "after compaction of tombstone", compact: 7, rev: 7},
		{name: "after compaction, newer version kept", compact: 7, rev: 8, found: true, want: KeyValue{Key: "/a", Value: []byte("3"), CreateRevision: 8, ModRevision: 8, Version: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := build(t, history)
			tr.Compact(tt.compact)
			got, found, err := tr.View().Get("/a", tt.rev)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Get(/a, %d) error = %v; want %v", tt.rev, err, tt.err)
			}
			if found != tt.found || !cmp.Equal(got, tt.want) {
				t.Errorf("Get(/a, %d) = %+v, %v; want %+v, %v", tt.rev, got, found, tt.want, tt.found)
			}
		})
	}
}

func TestRangeAndCount(t *testing.T) {
	tr := build(t, []op{
		{put: "/registry/pods/a/x", value: "1", rev: 1},
		{put: "/registry/pods/b/y", value: "2", rev: 2},
		{put: "/registry/pods/b/z", value: "3", rev: 3},
		{put: "/registry/podsx/q", value: "4", rev: 4},
		{del: "/registry/pods/b/y", rev: 5},
	})
	v := tr.View()
	tests := []struct {
		name       string
		start, end string
		rev        uint64
		want       []string
	}{
		{name: "prefix latest", start: "/registry/pods/", end: PrefixEnd("/registry/pods/"), want: []string{"/registry/pods/a/x", "/registry/pods/b/z"}},
		{name: "prefix at 4 sees the deleted key", start: "/registry/pods/", end: PrefixEnd("/registry/pods/"), rev: 4, want: []string{"/registry/pods/a/x", "/registry/pods/b/y", "/registry/pods/b/z"}},
		{name: "namespace", start: "/registry/pods/b/", end: PrefixEnd("/registry/pods/b/"), want: []string{"/registry/pods/b/z"}},
		{name: "unbounded", start: "/registry/pods/b", want: []string{"/registry/pods/b/z", "/registry/podsx/q"}},
		{name: "at 1", start: "", rev: 1, want: []string{"/registry/pods/a/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			if err := v.Range(tt.start, tt.end, tt.rev, func(kv KeyValue) bool { got = append(got, kv.Key); return true }); err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Range(%q, %q, %d) = %v; want %v", tt.start, tt.end, tt.rev, got, tt.want)
			}
		})
	}
	if got := v.Count("/registry/pods/", PrefixEnd("/registry/pods/")); got != 2 {
		t.Errorf("Count(/registry/pods/) = %d; want 2", got)
	}
	if got, want := tr.Count(), 3; got != want {
		t.Errorf("Tree.Count() = %d; want %d", got, want)
	}
	wantSize := int64(len("/registry/pods/a/x") + 1 + len("/registry/pods/b/z") + 1 + len("/registry/podsx/q") + 1)
	if got := tr.Size(); got != wantSize {
		t.Errorf("Tree.Size() = %d; want %d", got, wantSize)
	}
}

func TestViewIsImmutable(t *testing.T) {
	tr := NewTree()
	tr.Put("/k", []byte("v1"), 1)
	before := tr.View()
	tr.Put("/k", []byte("v2"), 2)
	tr.Put("/other", []byte("x"), 3)
	tr.Delete("/k", 4)
	tr.Compact(4)

	kv, ok, err := before.Get("/k", 0)
	if err != nil || !ok || string(kv.Value) != "v1" {
		t.Errorf("old view Get(/k) = %q, %v, %v; want v1, true, nil", kv.Value, ok, err)
	}
	if n := before.Count("", ""); n != 1 {
		t.Errorf("old view Count = %d; want 1", n)
	}
	if _, ok, _ := tr.View().Get("/k", 0); ok {
		t.Error("new view still sees deleted /k")
	}
}

func TestCompactDropsTombstonesAndKeepsReadsCorrect(t *testing.T) {
	tr := NewTree()
	rev := uint64(0)
	for i := 0; i < 50; i++ {
		for k := 0; k < 10; k++ {
			rev++
			key := fmt.Sprintf("/k%d", k)
			if (i+k)%3 == 0 {
				tr.Delete(key, rev)
			} else {
				tr.Put(key, []byte(fmt.Sprint(rev)), rev)
			}
		}
	}
	latest := map[string]string{}
	_ = tr.View().Range("", "", 0, func(kv KeyValue) bool { latest[kv.Key] = string(kv.Value); return true })
	beforeHash := tr.View().Hash()

	tr.Compact(rev)
	if got := tr.View().Hash(); got != beforeHash {
		t.Error("compaction changed the live state hash")
	}
	got := map[string]string{}
	_ = tr.View().Range("", "", 0, func(kv KeyValue) bool { got[kv.Key] = string(kv.Value); return true })
	if !cmp.Equal(got, latest) {
		t.Errorf("after Compact(%d) state = %v; want %v", rev, got, latest)
	}
	if tr.bt.Len() != len(latest) {
		t.Errorf("tree holds %d records after full compaction; want %d (tombstones dropped)", tr.bt.Len(), len(latest))
	}
	if len(tr.history) != 0 {
		t.Errorf("history holds %d keys after full compaction; want 0", len(tr.history))
	}
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	tr := NewTree()
	var wg sync.WaitGroup
	views := make(chan *View, 64)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range views {
				n := 0
				_ = v.Range("", "", 0, func(KeyValue) bool { n++; return true })
				if n != v.Len() {
					t.Errorf("view at %d: Range saw %d keys; Len = %d", v.Revision(), n, v.Len())
				}
			}
		}()
	}
	for rev := uint64(1); rev <= 2000; rev++ {
		key := fmt.Sprintf("/k%d", rev%97)
		if rev%5 == 0 {
			tr.Delete(key, rev)
		} else {
			tr.Put(key, []byte("v"), rev)
		}
		if rev%100 == 0 {
			tr.Compact(rev - 50)
		}
		if rev%10 == 0 {
			views <- tr.View()
		}
	}
	close(views)
	wg.Wait()
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/registry/pods/", "/registry/pods0"},
		{"a", "b"},
		{"a\xff", "b"},
		{"\xff\xff", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := PrefixEnd(tt.in); got != tt.want {
			t.Errorf("PrefixEnd(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSetRevisionPanicsGoingBackwards(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("SetRevision(1) after 5 did not panic")
		}
	}()
	tr := NewTree()
	tr.SetRevision(5)
	tr.SetRevision(1)
}
