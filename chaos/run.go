package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capstan-io/capstan/chaos/check"
	"github.com/capstan-io/capstan/chaos/cluster"
	"github.com/capstan-io/capstan/chaos/fault"
	"github.com/capstan-io/capstan/chaos/firewall"
	"github.com/capstan-io/capstan/chaos/history"
	"github.com/capstan-io/capstan/chaos/proxy"
	"github.com/capstan-io/capstan/chaos/report"
	"github.com/capstan-io/capstan/chaos/scenario"
	"github.com/capstan-io/capstan/chaos/workload"
)

// Workload is traffic the runner drives and records. KV (package workload) is the one there
// is; a Deployment workload that scales and rolls fits the same shape.
type Workload interface {
	// Start prepares the workload and starts its observers (watchers); it returns once they
	// observe.
	Start(ctx context.Context, c workload.Cluster) error
	// Run drives traffic until ctx ends.
	Run(ctx context.Context, c workload.Cluster) error
	// Fence makes a last write after the traffic stopped and returns its revision.
	Fence(ctx context.Context, c workload.Cluster) (uint64, error)
	// WaitWatchers waits until the observers reached rv and returns those that did not.
	WaitWatchers(ctx context.Context, rv uint64) []string
	// StopWatchers ends the observers.
	StopWatchers()
	// Finals reads the final state on every master at exactly rv.
	Finals(ctx context.Context, c workload.Cluster, rv uint64) []history.Final
}

var _ Workload = (*workload.KV)(nil)

// Run performs one chaos run and writes its report to cfg.Out. It returns the report, with
// OK false when an invariant was violated; an error means the run could not be judged (the
// cluster did not start, or did not recover for the final checks).
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(cfg.Out, "cluster")
	if err := os.RemoveAll(dataDir); err != nil {
		return nil, err
	}
	rec := history.NewRecorder()
	e := &env{cfg: cfg, rec: rec, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), ports: map[string]ports{}, next: cfg.Masters}
	var notes []string
	note := func(format string, args ...any) {
		notes = append(notes, fmt.Sprintf(format, args...))
		e.logf(format, args...)
	}
	e.mesh = proxy.NewMesh(proxy.ProcResolver(e.pids), cfg.Seed)
	defer e.mesh.Close()
	for i := 1; i <= cfg.Masters; i++ {
		if err := e.assignPorts(fmt.Sprintf("m%d", i)); err != nil {
			return nil, err
		}
	}
	if cfg.Scenario.SmallDisk {
		name := fmt.Sprintf("m%d", cfg.Masters)
		d, err := mountTmpfs(name, filepath.Join(dataDir, name))
		if err != nil {
			note("disk-full faults will be skipped: %v", err)
		} else {
			e.disk = d
			defer func() {
				if err := d.unmount(); err != nil {
					e.logf("%v", err)
				}
			}()
		}
	}
	if cfg.Firewall || cfg.Scenario.Firewall {
		fw, err := firewall.New(ctx, fmt.Sprintf("capstan_chaos_%d", os.Getpid()))
		switch {
		case err != nil && cfg.Firewall:
			return nil, err
		case err != nil:
			note("nftables faults will be skipped: %v", err)
		default:
			e.fw = fw
			defer func() { _ = fw.Close(context.Background()) }()
		}
	}

	serverArgs := append([]string{
		"--raft-heartbeat-timeout=" + cfg.HeartbeatTimeout.String(), "--raft-election-timeout=" + cfg.ElectionTimeout.String(),
	}, cfg.Scenario.ServerArgs...)
	if cfg.LogStore != "" {
		serverArgs = append(serverArgs, "--raft-log-store="+cfg.LogStore)
	}
	e.logf("starting %d masters in %s", cfg.Masters, dataDir)
	cl, err := cluster.Start(ctx, cluster.Config{Binary: cfg.Binary, Dir: dataDir, Masters: cfg.Masters, ServerArgs: serverArgs, MasterArgs: e.masterArgs, Timeout: 2 * time.Minute})
	e.cl = cl
	if cl != nil {
		defer cl.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCluster, err)
	}
	if err := e.addSlots(); err != nil {
		return nil, err
	}
	if cfg.HollowNodes > 0 {
		e.logf("starting %d hollow nodes", cfg.HollowNodes)
		if e.agents, err = startHollowAgent(ctx, cl, cfg.HollowNodes); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCluster, err)
		}
	}

	wcfg := cfg.Workload
	wcfg.Seed = cfg.Seed
	kv, err := workload.NewKV(wcfg, rec)
	if err != nil {
		return nil, err
	}
	var wl Workload = kv
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = wl.Start(sctx, e)
	cancel()
	if err != nil {
		wl.StopWatchers()
		return nil, fmt.Errorf("%w: start the workload: %v", ErrCluster, err)
	}
	dep := workload.NewDeploy(kv, cfg.Seed)
	sctx, cancel = context.WithTimeout(ctx, time.Minute)
	err = dep.Start(sctx, e)
	cancel()
	if err != nil {
		wl.StopWatchers()
		dep.StopWatchers()
		return nil, fmt.Errorf("%w: start the Deployment workload: %v", ErrCluster, err)
	}
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	trafficDone := make(chan struct{})
	go func() { // ends when stopTraffic is called
		defer close(trafficDone)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // ends with trafficCtx
			defer wg.Done()
			_ = dep.Run(trafficCtx, e)
		}()
		_ = wl.Run(trafficCtx, e)
		wg.Wait()
	}()
	e.logf("traffic running; scenario %s, seed %d", cfg.Scenario.Name, cfg.Seed)

	runSchedule(ctx, e, cfg)

	stopTraffic()
	<-trafficDone
	e.logf("traffic stopped; healing everything for the final checks")
	if err := healAll(ctx, e); err != nil {
		note("the cluster did not recover for the final checks: %v", err)
	}
	// Let writes whose clients gave up settle before the fence.
	pause(ctx, time.Second)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	fence, ferr := wl.Fence(fctx, e)
	if ferr == nil {
		if behind := wl.WaitWatchers(fctx, fence); len(behind) > 0 {
			note("watchers short of the fence revision %d: %s", fence, strings.Join(behind, ", "))
		}
	} else {
		note("the fence write failed: %v", ferr)
	}
	cancel()
	wl.StopWatchers()
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	rec.SetDeployment(dep.Converge(dctx, e), dep.Bindings())
	cancel()
	dep.StopWatchers()
	if ferr == nil {
		finals := wl.Finals(ctx, e, fence)
		addHashes(ctx, e, finals)
		rec.SetFinals(finals)
	}

	h := rec.History()
	cctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	checkers := check.All()
	for _, c := range checkers {
		if l, ok := c.(*check.Linearizability); ok {
			l.Timeout = cfg.CheckTimeout
		}
	}
	results := check.Run(cctx, h, checkers)
	cancel()
	rep := report.Build(report.Run{
		Scenario: cfg.Scenario.Name, Seed: cfg.Seed, Masters: cfg.Masters, Duration: cfg.Duration.String(),
		Elapsed: time.Since(started).Round(time.Millisecond).String(), Timeouts: fmt.Sprintf("heartbeat %s, election %s", cfg.HeartbeatTimeout, cfg.ElectionTimeout), LogStore: logStoreName(cfg.LogStore),
		Command: cfg.Command, Notes: notes,
	}, h, results)
	if err := rep.Write(cfg.Out, h, results); err != nil {
		return rep, err
	}
	if rep.OK && !cfg.KeepData {
		cl.Close()
		if e.disk != nil {
			_ = e.disk.unmount()
			e.disk = nil
		}
		_ = os.RemoveAll(dataDir)
	}
	if ferr != nil {
		return rep, fmt.Errorf("%w: the final fence write failed: %v", ErrCluster, ferr)
	}
	return rep, nil
}

// runSchedule runs the scenario's steps, then quiet traffic until the duration is used up.
func runSchedule(ctx context.Context, e *env, cfg Config) {
	deadline := time.Now().Add(cfg.Duration)
	pause(ctx, time.Second) // traffic before the first fault
	steps := cfg.Scenario.Plan(e.rng)
	for i := 0; ctx.Err() == nil; i++ {
		if i == len(steps) {
			if !cfg.Scenario.Repeat || time.Now().After(deadline) || len(steps) == 0 {
				break
			}
			steps, i = append(steps, cfg.Scenario.Plan(e.rng)...), i-1
			continue
		}
		runStep(ctx, e, steps[i], i)
	}
	if wait := time.Until(deadline); wait > 0 {
		pause(ctx, wait)
	}
	pause(ctx, time.Second) // X2: quiet traffic after the last fault
}

// runStep injects, holds, heals and waits for recovery, recording the fault.
func runStep(ctx context.Context, e *env, st scenario.Step, i int) {
	f := history.Fault{Kind: st.Fault.Kind()}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	eff, err := st.Fault.Inject(ictx, e)
	f.Target, f.Inject, f.Note = eff.Target, eff.At, eff.Note
	if f.Inject == 0 {
		f.Inject = e.Now()
	}
	if errors.Is(err, fault.ErrUnsupported) {
		f.Skipped = err.Error()
		e.rec.AddFault(f)
		e.logf("step %d: %s skipped: %v", i+1, f.Kind, err)
		return
	}
	if err != nil {
		f.Err = "inject: " + err.Error()
	}
	e.logf("step %d: %s on %s", i+1, f.Kind, f.Target)
	pause(ictx, st.Hold)
	healNote, herr := st.Fault.Heal(ictx, e)
	e.mesh.Heal()
	if e.fw != nil {
		_ = e.fw.Flush(ictx)
	}
	f.Healed = e.Now()
	if healNote != "" {
		f.Note = strings.TrimPrefix(f.Note+"; "+healNote, "; ")
	}
	if herr != nil && f.Err == "" {
		f.Err = "heal: " + herr.Error()
	}
	if err := e.waitHealthy(ictx); err != nil {
		if f.Err == "" {
			f.Err = "recover: " + err.Error()
		}
	} else {
		f.Recovered = e.Now()
	}
	e.rec.AddFault(f)
	if f.Err != "" {
		e.logf("step %d: %s: %s", i+1, f.Kind, f.Err)
		// Bring the cluster back before going on, so one failure does not cascade.
		_ = healAll(ctx, e)
	}
	pause(ctx, st.Quiet)
}

// healAll undoes every fault: network, firewall, paused and stopped masters, full disks.
func healAll(ctx context.Context, e *env) error {
	e.mesh.Heal()
	if e.fw != nil {
		_ = e.fw.Flush(ctx)
	}
	if e.disk != nil {
		_ = e.disk.Free()
	}
	e.mu.Lock()
	slots := append([]*slot(nil), e.slots...)
	e.mu.Unlock()
	var errs []error
	for _, s := range slots {
		if s.removed {
			continue
		}
		if running(s.m) {
			_ = s.m.Signal(syscall.SIGCONT)
			continue
		}
		if err := e.Restart(ctx, s.name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range slots {
		if s.removed {
			if _, err := e.AddMaster(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := e.waitHealthy(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// addHashes asks every master for its state hash until they all report the same revision.
func addHashes(ctx context.Context, e *env, finals []history.Final) {
	for attempt := 0; attempt < 50 && ctx.Err() == nil; attempt++ {
		revs := map[uint64]bool{}
		var got []struct {
			rev  uint64
			hash string
		}
		for i := range finals {
			s, err := e.slotOf(finals[i].Master)
			if err != nil {
				return
			}
			cl, err := e.cl.Client(s.m)
			if err != nil {
				return
			}
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			h, err := cl.Hash(hctx)
			cancel()
			if err != nil {
				break
			}
			revs[h.Revision] = true
			got = append(got, struct {
				rev  uint64
				hash string
			}{h.Revision, h.Hash})
		}
		if len(got) == len(finals) && len(revs) == 1 {
			for i := range finals {
				finals[i].HashRevision, finals[i].Hash = got[i].rev, got[i].hash
			}
			return
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// logStoreName names the log store for the report.
func logStoreName(s string) string {
	if s == "" {
		return "server default (wal)"
	}
	return s
}
