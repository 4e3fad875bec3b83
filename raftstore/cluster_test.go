package raftstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFollowerWriteIsReadLinearizablyOnAnotherFollower(t *testing.T) {
	for _, ls := range logStores {
		t.Run(ls, func(t *testing.T) {
			c := newCluster(t, 3, ls, nil)
			leader := c.waitLeader()
			f1 := c.follower()
			f2 := c.follower(f1.NodeID())
			if f1 == leader || f2 == leader || f1 == f2 {
				t.Fatal("need two distinct followers")
			}
			ctx := testContext(t)
			for i := 0; i < 50; i++ {
				key := fmt.Sprintf("/lin/%d", i)
				res := put(t, f1, key, fmt.Sprint(i))
				kv, ok, rev, err := f2.Get(ctx, key, ReadOptions{})
				if err != nil || !ok || kv.ModRevision != res.Revision || rev < res.Revision {
					t.Fatalf("write %d acknowledged at %d on %s; Get on %s = %+v, %v, rev %d, %v", i, res.Revision, f1.NodeID(), f2.NodeID(), kv, ok, rev, err)
				}
			}
		})
	}
}

func TestLeaderKillLosesNoAcknowledgedWrite(t *testing.T) {
	for _, ls := range logStores {
		t.Run(ls, func(t *testing.T) {
			c := newCluster(t, 3, ls, nil)
			var (
				acked   sync.Map // key -> revision
				stop    atomic.Bool
				wg      sync.WaitGroup
				failed  atomic.Int64
				unknown atomic.Int64
			)
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						live := c.live()
						s := live[(w+i)%len(live)]
						key := fmt.Sprintf("/kill/%d/%d", w, i)
						res, err := s.Txn(testContext(t), Txn{Ops: []Op{Put(key, []byte("v"))}})
						switch {
						case err == nil:
							acked.Store(key, res.Revision)
						case errors.Is(err, ErrUnknownOutcome):
							unknown.Add(1)
						default:
							failed.Add(1)
						}
					}
				}(w)
			}
			waitForAcks := func(n int) {
				waitFor(t, 20*time.Second, fmt.Sprintf("%d acknowledged writes", n), func() bool {
					count := 0
					acked.Range(func(any, any) bool { count++; return true })
					return count >= n
				})
			}
			waitForAcks(100)
			old := c.waitLeader()
			oldID := old.NodeID()
			c.kill(oldID)
			newLeader := c.waitLeader()
			if newLeader.NodeID() == oldID {
				t.Fatal("the killed member is still leader")
			}
			before := 0
			acked.Range(func(any, any) bool { before++; return true })
			waitForAcks(before + 100) // writes resume through the survivors
			stop.Store(true)
			wg.Wait()
			t.Logf("acknowledged writes survived a leader kill; %d failed, %d unknown", failed.Load(), unknown.Load())

			for _, s := range []*Store{newLeader, c.follower()} {
				ctx := testContext(t)
				list, err := s.List(ctx, "/kill/", ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				have := map[string]uint64{}
				for _, kv := range list.KVs {
					have[kv.Key] = kv.ModRevision
				}
				acked.Range(func(k, v any) bool {
					if have[k.(string)] != v.(uint64) {
						t.Errorf("acknowledged write %s at %d missing on %s (have %d)", k, v, s.NodeID(), have[k.(string)])
					}
					return true
				})
			}
		})
	}
}

func TestRestartedMemberCatchesUpFromSnapshot(t *testing.T) {
	// raft-wal truncates whole 64 MiB segments, so only the bolt log store drops the entries
	// the stopped member needs after a few hundred writes.
	c := newCluster(t, 3, LogStoreBolt, func(cfg *Config) {
		cfg.SnapshotThreshold = 64
		cfg.SnapshotInterval = 50 * time.Millisecond
		cfg.TrailingLogs = 16
	})
	leader := c.waitLeader()
	lagger := c.follower()
	id := lagger.NodeID()
	c.kill(id)
	for i := 0; i < 400; i++ {
		put(t, leader, fmt.Sprintf("/snap/%03d", i), fmt.Sprint(i))
	}
	// The survivors must have compacted their logs past what the stopped member has.
	waitFor(t, 10*time.Second, "the leader to snapshot and truncate its log", func() bool {
		first, err := leaderFirstIndex(leader)
		return err == nil && first > 100
	})
	restarted := c.restart(id)
	ctx := testContext(t)
	want := leader.Revision()
	if err := restarted.waitRevision(ctx, want); err != nil {
		t.Fatalf("restarted member did not catch up to %d: %v", want, err)
	}
	if n := testutil.ToFloat64(restarted.metrics.snapshotRestores); n < 1 {
		t.Fatalf("restarted member caught up without installing a snapshot (restores = %v)", n)
	}
	list, err := restarted.List(ctx, "/snap/", ListOptions{ReadOptions: ReadOptions{Stale: true}})
	if err != nil || len(list.KVs) != 400 {
		t.Fatalf("restarted member lists %d keys, %v; want 400", len(list.KVs), err)
	}
	if _, err := restarted.List(ctx, "/snap/", ListOptions{Revision: 2}); !errors.Is(err, ErrCompacted) {
		t.Errorf("List at revision 2 on a member restored from a snapshot: error = %v; want ErrCompacted", err)
	}
	lr, lh := leader.Hash()
	waitFor(t, 10*time.Second, "equal state hashes", func() bool {
		r, h := restarted.Hash()
		return r == lr && h == lh
	})
}

func leaderFirstIndex(s *Store) (uint64, error) {
	stats := s.raft.Stats()
	var first uint64
	_, err := fmt.Sscan(stats["last_snapshot_index"], &first)
	return first, err
}

func TestWatchAcrossLeaderChangeSeesEveryEventOnce(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	leader := c.waitLeader()
	watcherMember := c.follower()
	start := put(t, leader, "/w/start", "0").Revision
	w, err := watcherMember.Watch("/w/", start)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var want []string
	for i := 0; i < 30; i++ {
		key := fmt.Sprintf("/w/%d", i)
		put(t, watcherMember, key, "a")
		want = append(want, key)
	}
	if err := leader.TransferLeadership(testContext(t), watcherMember.NodeID()); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	for i := 30; i < 60; i++ {
		key := fmt.Sprintf("/w/%d", i)
		put(t, leader, key, "b") // the old leader is a follower now and forwards
		want = append(want, key)
	}
	var got []string
	var last uint64 = start
	for len(got) < len(want) {
		resp, err := w.Next(testContext(t), 0)
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(got), err)
		}
		for _, e := range resp.Events {
			if e.Revision() <= last {
				t.Fatalf("event %s at %d after %d: out of order or duplicated", e.KV.Key, e.Revision(), last)
			}
			last = e.Revision()
			got = append(got, e.KV.Key)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %s; want %s", i, got[i], want[i])
		}
	}
}

func TestCompactionGivesErrCompacted(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	s := c.follower()
	ctx := testContext(t)
	first := put(t, s, "/c/a", "1").Revision
	put(t, s, "/c/a", "2")
	mid := put(t, s, "/c/b", "1").Revision
	if err := s.Compact(ctx, mid); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Store{c.get("m0"), c.get("m1"), c.get("m2")} {
		if err := m.waitRevision(ctx, mid+1); err != nil {
			t.Fatal(err)
		}
		if _, err := m.List(ctx, "/c/", ListOptions{Revision: first}); !errors.Is(err, ErrCompacted) {
			t.Errorf("%s: List at compacted revision %d: error = %v; want ErrCompacted", m.NodeID(), first, err)
		}
		list, err := m.List(ctx, "/c/", ListOptions{Revision: mid})
		if err != nil || len(list.KVs) != 2 {
			t.Errorf("%s: List at the compaction point = %d keys, %v; want 2", m.NodeID(), len(list.KVs), err)
		}
	}
	if _, err := s.Watch("/c/", 0); err != nil {
		t.Errorf("Watch from now after compaction: %v", err)
	}
}

func TestListPagesConsistently(t *testing.T) {
	c := newCluster(t, 1, LogStoreWAL, nil)
	s := c.get("m0")
	ctx := testContext(t)
	for i := 0; i < 10; i++ {
		put(t, s, fmt.Sprintf("/p/%02d", i), "v")
	}
	page1, err := s.List(ctx, "/p/", ListOptions{Limit: 4})
	if err != nil || len(page1.KVs) != 4 || !page1.More {
		t.Fatalf("page 1 = %d keys, more %v, %v", len(page1.KVs), page1.More, err)
	}
	// Writes after the first page must not show up in later pages of the same list.
	put(t, s, "/p/05", "changed")
	put(t, s, "/p/99", "new")
	res, _ := s.Txn(ctx, Txn{Ops: []Op{Delete("/p/07")}})
	_ = res
	var keys []string
	for _, kv := range page1.KVs {
		keys = append(keys, kv.Key)
	}
	after := page1.KVs[len(page1.KVs)-1].Key
	for {
		page, err := s.List(ctx, "/p/", ListOptions{Limit: 4, After: after, Revision: page1.Revision})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range page.KVs {
			keys = append(keys, kv.Key)
			if kv.Key == "/p/05" && string(kv.Value) != "v" {
				t.Errorf("page at revision %d saw a later write to /p/05", page1.Revision)
			}
		}
		if !page.More {
			break
		}
		after = page.KVs[len(page.KVs)-1].Key
	}
	if len(keys) != 10 || keys[9] != "/p/09" {
		t.Errorf("paged keys = %v; want /p/00../p/09 as of the first page", keys)
	}
}

func TestLeaderFenceRejectsADeposedLeadersWrites(t *testing.T) {
	c := newCluster(t, 3, LogStoreWAL, nil)
	old := c.waitLeader()
	fence, ok := old.LeaderFence()
	if !ok {
		t.Fatal("a ready leader has no fence")
	}
	ctx := testContext(t)
	if _, err := old.Txn(ctx, Txn{Compares: []Compare{fence}, Ops: []Op{Put("/fenced/1", []byte("ok"))}}); err != nil {
		t.Fatal(err)
	}
	if err := old.TransferLeadership(ctx, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new ready leader", func() bool {
		l := c.waitLeader()
		_, ok := l.LeaderFence()
		return l != old && ok
	})
	if _, ok := old.LeaderFence(); ok {
		t.Error("the deposed leader still reports a fence")
	}
	res, err := old.Txn(ctx, Txn{Compares: []Compare{fence}, Ops: []Op{Put("/fenced/2", []byte("late"))}})
	if err != nil || res.Succeeded {
		t.Errorf("a write with the old leader's fence after a new leader took over = %+v, %v; want a failed compare", res, err)
	}
}

func TestOpGuards(t *testing.T) {
	c := newCluster(t, 1, LogStoreWAL, nil)
	s := c.get("m0")
	a := put(t, s, "/g/a", "1")
	put(t, s, "/g/b", "1")
	res, err := s.Txn(testContext(t), Txn{Ops: []Op{
		{Type: OpPut, Key: "/g/a", Value: []byte("2"), If: []Compare{ModRevisionIs("/g/a", a.Revision)}},
		{Type: OpPut, Key: "/g/b", Value: []byte("2"), If: []Compare{ModRevisionIs("/g/b", a.Revision)}},
		{Type: OpDelete, Key: "/g/c", If: []Compare{Exists("/g/c")}},
	}})
	if err != nil || !res.Succeeded {
		t.Fatalf("Txn = %+v, %v", res, err)
	}
	if res.Ops[0].Skipped || !res.Ops[1].Skipped || !res.Ops[2].Skipped {
		t.Errorf("op results = %+v; want the first applied, the others skipped", res.Ops)
	}
	kv, _, _, _ := s.Get(testContext(t), "/g/b", ReadOptions{})
	if string(kv.Value) != "1" {
		t.Errorf("/g/b = %q after its guard failed; want 1", kv.Value)
	}
}
