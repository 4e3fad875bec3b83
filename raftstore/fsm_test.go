package raftstore

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/capstan-io/capstan/raftstore/watch"
)

// newTestFSM returns a state machine and the channel its halt callback reports to.
func newTestFSM(t testing.TB) (*fsm, chan error) {
	t.Helper()
	halts := make(chan error, 1)
	f, err := newFSM(slog.New(slog.DiscardHandler), newMetrics(), watch.Config{Capacity: 1024, MaxLag: 1024, MaxBatch: 100}, func(err error) { halts <- err })
	if err != nil {
		t.Fatal(err)
	}
	return f, halts
}

func cmdLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func txnCmd(id byte, ops ...Op) []byte {
	c := &txnCommand{proposed: 1_000, txn: Txn{Ops: ops}}
	c.id[0] = id
	return encodeTxn(c)
}

func TestFSMDeduplicatesRetriedRequests(t *testing.T) {
	f, _ := newTestFSM(t)
	first := f.Apply(cmdLog(1, txnCmd(7, Put("/a", []byte("1"))))).(*applyResult)
	// Another write in between, then the retry of request 7 arrives as a new entry.
	f.Apply(cmdLog(2, txnCmd(8, Put("/a", []byte("2")))))
	retry := f.Apply(cmdLog(3, txnCmd(7, Put("/a", []byte("1"))))).(*applyResult)
	if retry.err != nil || retry.res.Revision != first.res.Revision || !retry.res.Succeeded {
		t.Errorf("retried request = %+v; want the first result %+v", retry, first)
	}
	kv, _, _ := f.currentView().Get("/a", 0)
	if string(kv.Value) != "2" || kv.Version != 2 {
		t.Errorf("after the retry /a = %q version %d; want 2, version 2 (the retry must not apply again)", kv.Value, kv.Version)
	}
	if got := f.revision(); got != 3 {
		t.Errorf("revision = %d; want 3 (a deduplicated entry still advances the revision)", got)
	}
}

func TestFSMHandlesEntriesItCannotApply(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		wantErr   error
		wantHalt  bool
		wantApply bool // a later valid entry still applies
	}{
		{name: "garbage", data: []byte{0x01, 0x01, 0xff}, wantErr: ErrInvalidRequest, wantApply: true},
		{name: "empty", data: nil, wantErr: ErrInvalidRequest, wantApply: true},
		{name: "ignorable unknown type", data: []byte{byte(ignoreUnknownFlag | 5), 1, 9, 9}, wantApply: true},
		{name: "unknown type halts", data: []byte{42, 1}, wantErr: ErrHalted, wantHalt: true},
		{name: "unknown version halts", data: []byte{byte(cmdTxn), 9}, wantErr: ErrHalted, wantHalt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, halts := newTestFSM(t)
			r := f.Apply(cmdLog(1, tt.data)).(*applyResult)
			if !errors.Is(r.err, tt.wantErr) || (tt.wantErr == nil && r.err != nil) {
				t.Errorf("Apply(%x) error = %v; want %v", tt.data, r.err, tt.wantErr)
			}
			next := f.Apply(cmdLog(2, txnCmd(1, Put("/after", []byte("x"))))).(*applyResult)
			_, applied, _ := f.currentView().Get("/after", 0)
			if applied != tt.wantApply {
				t.Errorf("a valid entry after it applied = %v (%v); want %v", applied, next.err, tt.wantApply)
			}
			if tt.wantHalt != (f.halted != nil) {
				t.Errorf("halted = %v; want %v", f.halted, tt.wantHalt)
			}
			if tt.wantHalt {
				if f.revision() != 0 {
					t.Errorf("a halted state machine advanced to revision %d", f.revision())
				}
				if err := <-halts; !errors.Is(err, ErrHalted) {
					t.Errorf("halt callback got %v; want ErrHalted", err)
				}
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	f, _ := newTestFSM(t)
	f.Apply(cmdLog(3, txnCmd(1, Put("/registry/pods/a", []byte("pa")), Put("/registry/nodes/n", []byte("node")))))
	f.Apply(cmdLog(5, txnCmd(2, Delete("/registry/pods/a"), Put("/registry/pods/b", []byte("pb")))))
	f.Apply(cmdLog(9, txnCmd(3, Put("/registry/pods/b", []byte("pb2")))))
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, snap.(*fsmSnapshot).view, snap.(*fsmSnapshot).dedup); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	g, _ := newTestFSM(t)
	if err := g.Restore(nopCloser{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if g.revision() != 9 {
		t.Errorf("restored revision = %d; want 9", g.revision())
	}
	if fh, gh := f.currentView().Hash(), g.currentView().Hash(); fh != gh {
		t.Error("restored state hash differs")
	}
	// The deduplication table survives: a retry of request 3 after the restore is not applied.
	r := g.Apply(cmdLog(10, txnCmd(3, Put("/registry/pods/b", []byte("pb2"))))).(*applyResult)
	if r.res.Revision != 9 {
		t.Errorf("retry after restore answered revision %d; want 9 from the dedup table", r.res.Revision)
	}
	info, err := InspectSnapshot(bytes.NewReader(data))
	if err != nil || info.Keys != 2 || info.Revision != 9 || len(info.Prefixes) != 2 || info.Size != int64(len(data)) {
		t.Errorf("InspectSnapshot = %+v, %v", info, err)
	}

	corrupt := []struct {
		name string
		data []byte
	}{
		{name: "truncated", data: data[:len(data)/2]},
		{name: "flipped bit", data: flip(data, len(data)/3)},
		{name: "bad checksum", data: flip(data, len(data)-1)},
		{name: "not a snapshot", data: []byte("hello world, not a snapshot")},
		{name: "trailing data", data: append(append([]byte(nil), data...), 0)},
	}
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestFSM(t)
			h.Apply(cmdLog(1, txnCmd(1, Put("/keep", []byte("me")))))
			if err := h.Restore(nopCloser{bytes.NewReader(tt.data)}); !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("Restore(%s) error = %v; want ErrBadSnapshot", tt.name, err)
			}
			if _, ok, _ := h.currentView().Get("/keep", 0); !ok {
				t.Error("a failed restore changed the state")
			}
		})
	}
}

func TestRestoreClosesWatchers(t *testing.T) {
	f, _ := newTestFSM(t)
	f.Apply(cmdLog(1, txnCmd(1, Put("/a", []byte("1")))))
	w, err := f.hub.Watch("/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	snap, _ := f.Snapshot()
	writeSnapshot(&buf, snap.(*fsmSnapshot).view, nil)
	f.Apply(cmdLog(2, txnCmd(2, Put("/b", []byte("2")))))
	if err := f.Restore(nopCloser{bytes.NewReader(buf.Bytes())}); !errors.Is(err, ErrBadSnapshot) {
		// Restoring an older revision is refused: revisions never go backwards.
		t.Fatalf("restoring an older snapshot: error = %v; want ErrBadSnapshot", err)
	}
	buf.Reset()
	snap, _ = f.Snapshot()
	writeSnapshot(&buf, snap.(*fsmSnapshot).view, nil)
	if err := f.Restore(nopCloser{bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Next(testContext(t), 0); !errors.Is(mapReadError(err), ErrWatchReset) {
		t.Errorf("watcher after restore: %v; want ErrWatchReset", err)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

func FuzzApplyCommand(f *testing.F) {
	f.Add(txnCmd(1, Put("/a", []byte("1")), Delete("/b")))
	f.Add(encodeTxn(&txnCommand{quota: 10, txn: Txn{Compares: []Compare{ModRevisionIs("/a", 3), Absent("/c")}, Ops: []Op{Put("/c", nil)}}}))
	f.Add(encodeCompact(&compactCommand{revision: 5}))
	f.Add([]byte{byte(cmdTxn), txnVersion1})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm, _ := newTestFSM(t)
		fsm.Apply(cmdLog(1, txnCmd(1, Put("/a", []byte("1")))))
		before := fsm.currentView().Hash()
		r := fsm.Apply(cmdLog(2, data)).(*applyResult)
		if r.err != nil && fsm.currentView().Hash() != before {
			t.Errorf("a rejected entry changed the state: %v", r.err)
		}
		if cmd, err := decodeCommand(data); err == nil {
			// Whatever decodes must survive an encode/decode round trip unchanged (the bytes
			// may differ: varints have non-canonical forms).
			var re []byte
			switch c := cmd.(type) {
			case *txnCommand:
				re = encodeTxn(c)
			case *compactCommand:
				re = encodeCompact(c)
			}
			again, err := decodeCommand(re)
			if err != nil || !reflect.DeepEqual(normalize(again), normalize(cmd)) {
				t.Errorf("round trip of %x: %+v, %v; want %+v", data, again, err, cmd)
			}
		}
	})
}

// normalize makes empty and nil values compare equal.
func normalize(cmd any) any {
	if c, ok := cmd.(*txnCommand); ok {
		n := *c
		n.txn.Ops = append([]Op(nil), c.txn.Ops...)
		for i := range n.txn.Ops {
			if len(n.txn.Ops[i].Value) == 0 {
				n.txn.Ops[i].Value = nil
			}
		}
		return &n
	}
	return cmd
}
