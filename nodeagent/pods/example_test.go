package pods_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/capstan-io/capstan/nodeagent/pods"
	"github.com/capstan-io/capstan/nodeagent/runtime/runtimetest"
)

// Example wires a Manager the way the node agent does: Run in the background, every informer
// add or update to Sync, every delete to Remove, and SetSourcesReady once the informer synced.
func Example() {
	dir, _ := os.MkdirTemp("", "pods-example")
	defer os.RemoveAll(dir)
	rt := runtimetest.NewFake()
	defer rt.Close()
	cfg := pods.DefaultConfig()
	cfg.NodeName = "node-1"
	cfg.Runtime = rt
	cfg.Client = fake.NewSimpleClientset()
	cfg.RootDir = filepath.Join(dir, "pods")
	cfg.LogDir = filepath.Join(dir, "logs")
	m, err := pods.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()

	m.Sync(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
	})
	m.SetSourcesReady()
	uid, _ := m.PodUID("default", "web")
	fmt.Println(uid, m.Stats().Pods)

	cancel()
	<-done
	// Output: uid-1 1
}
