// Package storebench load-tests a raftstore cluster: it starts members on loopback with fsync
// on, drives writes at several concurrencies and linearizable reads on a follower, and reports
// throughput and latency percentiles. `capstan bench store` is its command line.
package storebench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capstan-io/capstan/raftstore"
)

// Config says what to measure.
type Config struct {
	// Members is the cluster size.
	Members int
	// DataDir holds the members' data; empty means a temporary directory removed afterwards.
	DataDir string
	// LogStore is raftstore.LogStoreWAL or raftstore.LogStoreBolt.
	LogStore string
	// ValueSize is the size of each written value.
	ValueSize int
	// Concurrency lists the numbers of concurrent writers to measure, one run each.
	Concurrency []int
	// Readers is the number of concurrent linearizable readers on a follower (0 skips reads).
	Readers int
	// Duration is how long each run lasts.
	Duration time.Duration
	// ViaFollower sends writes to a follower, which forwards them, instead of the leader.
	ViaFollower bool
}

// DefaultConfig returns the benchmark the issue tracker's targets refer to.
func DefaultConfig() Config {
	return Config{Members: 3, LogStore: raftstore.LogStoreWAL, ValueSize: 256, Concurrency: []int{1, 16, 64, 256}, Readers: 64, Duration: 5 * time.Second}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Members < 1 {
		errs = append(errs, fmt.Errorf("members %d must be at least 1", c.Members))
	}
	if c.ViaFollower && c.Members < 2 {
		errs = append(errs, errors.New("writing via a follower needs at least 2 members"))
	}
	if c.ValueSize < 1 {
		errs = append(errs, fmt.Errorf("value size %d must be positive", c.ValueSize))
	}
	for _, n := range c.Concurrency {
		if n < 1 {
			errs = append(errs, fmt.Errorf("concurrency %d must be positive", n))
		}
	}
	if c.Readers < 0 {
		errs = append(errs, fmt.Errorf("readers %d must not be negative", c.Readers))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s must be positive", c.Duration))
	}
	return errors.Join(errs...)
}

// Result is one measured run. The API benchmark uses it too.
type Result struct {
	// Op is "write" or "linearizable-read".
	Op string `json:"op"`
	// Clients is the number of concurrent clients.
	Clients int `json:"clients"`
	// Ops counts completed operations; Errors counts failed ones.
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
	// PerSecond is Ops divided by the run's duration.
	PerSecond float64 `json:"perSecond"`
	// P50 and P99 are latency percentiles, and Max the slowest operation, in milliseconds.
	P50 float64 `json:"p50Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

// Report is the whole benchmark's outcome.
type Report struct {
	Members     int      `json:"members"`
	LogStore    string   `json:"logStore"`
	ValueSize   int      `json:"valueSize"`
	ViaFollower bool     `json:"viaFollower"`
	Duration    string   `json:"duration"`
	Results     []Result `json:"results"`
}

// Run starts the cluster, measures, and shuts it down.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "capstan-bench-store-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	members, err := startCluster(ctx, dir, cfg)
	if err != nil {
		return Report{}, err
	}
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	leader, follower := members[0], members[0]
	for _, m := range members {
		if m.IsLeader() {
			leader = m
		} else {
			follower = m
		}
	}
	target := leader
	if cfg.ViaFollower {
		target = follower
	}
	rep := Report{Members: cfg.Members, LogStore: cfg.LogStore, ValueSize: cfg.ValueSize, ViaFollower: cfg.ViaFollower, Duration: cfg.Duration.String()}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	for _, n := range cfg.Concurrency {
		var seq atomic.Int64
		r := Measure(ctx, "write", n, cfg.Duration, func(ctx context.Context, _ int) error {
			key := fmt.Sprintf("/bench/%d", seq.Add(1)%100_000)
			_, err := target.Txn(ctx, raftstore.Txn{Ops: []raftstore.Op{raftstore.Put(key, value)}})
			return err
		})
		rep.Results = append(rep.Results, r)
	}
	if cfg.Readers > 0 {
		r := Measure(ctx, "linearizable-read", cfg.Readers, cfg.Duration, func(ctx context.Context, _ int) error {
			_, _, _, err := follower.Get(ctx, "/bench/1", raftstore.ReadOptions{})
			return err
		})
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

// Measure runs op from clients goroutines for d, each call with a 10 s timeout and the index of
// its client, and summarises the latencies of the calls that succeeded.
func Measure(ctx context.Context, name string, clients int, d time.Duration, op func(ctx context.Context, client int) error) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				opCtx, opCancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := op(opCtx, c)
				opCancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return Summarise(name, clients, latencies, errs.Load(), time.Since(start))
}

// Summarise turns the latencies of successful operations over elapsed into a Result.
func Summarise(name string, clients int, latencies []time.Duration, errs int64, elapsed time.Duration) Result {
	slices.Sort(latencies)
	r := Result{Op: name, Clients: clients, Ops: int64(len(latencies)), Errors: errs, PerSecond: float64(len(latencies)) / elapsed.Seconds()}
	r.P50, r.P99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
	if len(latencies) > 0 {
		r.Max = float64(latencies[len(latencies)-1].Microseconds()) / 1000
	}
	return r
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

// startCluster starts cfg.Members members: the first bootstraps, the others join and are
// promoted before it returns.
func startCluster(ctx context.Context, dir string, cfg Config) ([]*raftstore.Store, error) {
	var members []*raftstore.Store
	fail := func(err error) ([]*raftstore.Store, error) {
		for _, m := range members {
			m.Close()
		}
		return nil, err
	}
	for i := 0; i < cfg.Members; i++ {
		sc := raftstore.DefaultConfig()
		sc.NodeID = fmt.Sprintf("bench%d", i)
		sc.DataDir = filepath.Join(dir, sc.NodeID)
		sc.LogStore = cfg.LogStore
		sc.BindAddr = "127.0.0.1:0"
		sc.Bootstrap = i == 0
		sc.CompactionRetention = 0
		m, err := raftstore.Open(sc)
		if err != nil {
			return fail(err)
		}
		members = append(members, m)
		if i == 0 {
			if err := m.WaitLeader(ctx); err != nil {
				return fail(err)
			}
			continue
		}
		if err := members[0].AddNonvoter(ctx, sc.NodeID, m.Addr()); err != nil {
			return fail(err)
		}
	}
	for {
		ms, err := members[0].Members(ctx)
		if err != nil {
			return fail(err)
		}
		voters := 0
		for _, m := range ms {
			if m.Voter && m.Healthy {
				voters++
			}
		}
		if voters == cfg.Members {
			return members, nil
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
