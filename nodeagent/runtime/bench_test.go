package runtime_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkContainerStart measures CreateContainer followed by StartContainer: from nothing to a
// running main process, with its snapshot, spec, shim, logger and runc. "new shim" starts the
// pod's first container (the shim starts too); "shared shim" adds a container to a pod whose shim
// already runs. Stop and removal are not timed.
func BenchmarkContainerStart(b *testing.B) {
	e := newTestEnv(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		shared bool
	}{{"new shim", false}, {"shared shim", true}} {
		b.Run(bc.name, func(b *testing.B) {
			sb := e.sandbox("bench")
			defer e.stopSandbox(sb.UID)
			if bc.shared {
				e.start(sb, e.container(sb, "keeper", 0, "sleep", "3600"))
			}
			var create, start time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				id, err := e.rt.CreateContainer(ctx, sb, e.container(sb, "bench", uint32(i), "sleep", "3600"))
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := e.rt.StartContainer(ctx, id); err != nil {
					b.Fatal(err)
				}
				create += t1.Sub(t0)
				start += time.Since(t1)
				b.StopTimer()
				if err := e.rt.StopContainer(ctx, id, 0); err != nil {
					b.Fatal(err)
				}
				if err := e.rt.RemoveContainer(ctx, id); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(create.Microseconds())/1000/float64(b.N), "create-ms/op")
			b.ReportMetric(float64(start.Microseconds())/1000/float64(b.N), "start-ms/op")
		})
	}
}

// BenchmarkPodStart measures what the node spends to start a one-container pod: RunSandbox
// (network namespace, CNI bridge and host-local) then CreateContainer and StartContainer, the
// work the agent asks of the runtime for each pod. Besides the time it reports host-cpu-ms/op,
// the CPU the whole host used meanwhile (from /proc/stat: containerd, the shim, runc, the CNI
// plugins, the log copier and this process), which bounds how many pods per second the
// machine can start whatever the control plane does. Run it on a quiet machine. Tear-down
// is not timed.
func BenchmarkPodStart(b *testing.B) {
	e := newTestEnv(b)
	ctx := context.Background()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := hostCPU(b)
		sb := e.sandbox("bench")
		id, err := e.rt.CreateContainer(ctx, sb, e.container(sb, "main", 0, "sleep", "3600"))
		if err != nil {
			b.Fatal(err)
		}
		if err := e.rt.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		cpu += hostCPU(b) - before
		b.StopTimer()
		if err := e.rt.StopContainer(ctx, id, 0); err != nil {
			b.Fatal(err)
		}
		if err := e.rt.RemoveContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		e.stopSandbox(sb.UID)
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "host-cpu-ms/op")
}

// hostCPU returns the CPU time every core of the host has spent busy since boot (user,
// nice, system, irq, softirq and steal in /proc/stat's first line), at the kernel's clock
// tick resolution (10 ms).
func hostCPU(tb testing.TB) time.Duration {
	tb.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		tb.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		tb.Fatalf("/proc/stat begins %q; want the cpu line", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			tb.Fatalf("/proc/stat field %d %q: %v", i, f[i], err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond
}

// clockTicksPerSecond is USER_HZ, the unit of /proc/stat: 100 on every Linux architecture
// Capstan runs on.
const clockTicksPerSecond = 100
