package runtime_test

import (
	"context"
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
