package runtime_test

import (
	"context"
	"fmt"
	"log"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Example shows a node agent's use of the runtime: its own containerd, a pod sandbox and one
// container. It needs root and the Debian packages CheckHost names, so it is not run as a test.
func Example() {
	ctx := context.Background()
	if err := runtime.CheckHost(); err != nil {
		log.Fatal(err) // names the missing packages and the apt-get command
	}
	d, err := runtime.StartDaemon(ctx, "/var/lib/capstan/containerd")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close() // containers keep running

	cfg := runtime.DefaultConfig()
	cfg.Address = d.Address()
	cfg.Network.Subnet = "10.88.0.0/24" // the node's pod CIDR
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	// After a restart, adopt what runs before doing anything else.
	running, err := rt.ListContainers(ctx, runtime.ContainerFilter{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(running), "containers found")

	uid := "6f1c1a56-3d2e-4c4b-9a59-3d1f0b8f4b2e"
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{UID: uid, Name: "web", Namespace: "default",
		PortMappings: []runtime.PortMapping{{ContainerPort: 80, HostPort: 8080}}})
	if err != nil {
		log.Fatal(err)
	}
	img, err := rt.EnsureImage(ctx, "busybox:1.36", corev1.PullIfNotPresent, nil)
	if err != nil {
		log.Fatal(err) // errors.Is(err, runtime.ErrImagePull) → reason ErrImagePull
	}
	id, err := rt.CreateContainer(ctx, sb, runtime.ContainerConfig{
		Name: "web", Attempt: 0, Image: img, Command: []string{"httpd", "-f", "-p", "80"}, Hostname: sb.Name,
		Resources: runtime.Resources{CPULimitMillis: 500, MemoryLimitBytes: 64 << 20},
		LogPath:   runtime.LogPath("/var/log/pods", sb.Namespace, sb.Name, sb.UID, "web", 0),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		log.Fatal(err)
	}
	for ev := range rt.Events() {
		if ev.Type == runtime.EventContainerExited && ev.ContainerID == id {
			st, _ := rt.ContainerStatus(ctx, id)
			fmt.Println(st.ExitCode, st.Reason)
			break
		}
	}
}

func ExampleLogPath() {
	fmt.Println(runtime.LogPath("/var/log/pods", "default", "web", "6f1c1a56", "nginx", 1))
	// Output: /var/log/pods/default_web_6f1c1a56/nginx/1.log
}

func ExampleContainerID() {
	fmt.Println(runtime.ContainerID("6f1c1a56-3d2e-4c4b-9a59-3d1f0b8f4b2e", "nginx", 3))
	// Output: nginx-3-3b984e567067
}
