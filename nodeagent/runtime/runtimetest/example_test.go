package runtimetest_test

import (
	"context"
	"fmt"

	"github.com/capstan-io/capstan/nodeagent/runtime"
	"github.com/capstan-io/capstan/nodeagent/runtime/runtimetest"
)

// ExampleFake drives a fake container through its life as a pod worker test would.
func ExampleFake() {
	ctx := context.Background()
	f := runtimetest.NewFake()
	defer f.Close()
	sb, _ := f.RunSandbox(ctx, runtime.SandboxConfig{UID: "u1", Name: "web", Namespace: "default"})
	img, _ := f.EnsureImage(ctx, "nginx:1.27", "", nil)
	id, _ := f.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "nginx", Image: img})
	f.StartContainer(ctx, id)

	f.OOMKill(id) // what the test wants the pod worker to see
	for i := 0; i < 2; i++ {
		ev := <-f.Events()
		fmt.Println(ev.Type, ev.PodUID)
	}
	st, _ := f.ContainerStatus(ctx, id)
	fmt.Println(sb.IPs[0], st.State, st.ExitCode, st.Reason)
	// Output:
	// ContainerOOM u1
	// ContainerExited u1
	// 10.244.0.1 Exited 137 OOMKilled
}
