package raftstore

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkTxn measures 256-byte puts on a 3-member cluster over loopback with fsync on,
// submitted at the leader by 64 concurrent writers (b.SetParallelism scales GOMAXPROCS).
func BenchmarkTxn(b *testing.B) {
	for _, ls := range logStores {
		b.Run(ls, func(b *testing.B) {
			c := newCluster(b, 3, ls, func(cfg *Config) {
				cfg.Logger = nil
				cfg.CompactionRetention = 0
			})
			leader := c.waitLeader()
			value := make([]byte, 256)
			var seq atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("/bench/%d", seq.Add(1)%10_000)
					if _, err := leader.Txn(testContext(b), Txn{Ops: []Op{Put(key, value)}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkApply measures the state machine alone: decoding and applying single-put entries in
// batches of 256, with the watch hub fed.
func BenchmarkApply(b *testing.B) {
	f, _ := newTestFSM(b)
	value := make([]byte, 256)
	b.ReportAllocs()
	b.ResetTimer()
	index := uint64(0)
	for i := 0; i < b.N; i += 256 {
		batch := make([]*raft.Log, 256)
		for j := range batch {
			index++
			c := &txnCommand{proposed: 1, txn: Txn{Ops: []Op{Put(fmt.Sprintf("/registry/pods/default/p%d", index%10_000), value)}}}
			c.id[0], c.id[1], c.id[2] = byte(index), byte(index>>8), byte(index>>16)
			batch[j] = cmdLog(index, encodeTxn(c))
		}
		f.ApplyBatch(batch)
	}
}
