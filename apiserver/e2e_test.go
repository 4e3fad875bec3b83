package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"

	"github.com/capstan-io/capstan/apiserver/apitest"
)

func deployment(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
        ports:
        - containerPort: 80
        resources:
          limits: {memory: 64Mi, cpu: 100m}
`, image)
}

func TestKubectlAgainstAFollower(t *testing.T) {
	c := apitest.NewCluster(t, 3)
	follower := c.Follower()
	k := apitest.NewKubectl(t, c.Kubeconfig(follower))

	if out := k.Must("", "version"); !strings.Contains(out, "Server Version: v1.32") {
		t.Errorf("kubectl version:\n%s", out)
	}
	k.Must("", "create", "namespace", "shop") // a protobuf body
	if out := k.Must(deployment("nginx:1.25"), "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/web created") {
		t.Errorf("first apply: %s", out)
	}
	if out := k.Must(deployment("nginx:1.26"), "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/web configured") {
		t.Errorf("second apply: %s", out)
	}
	if out := k.Must("", "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}"); out != "nginx:1.26 2" {
		t.Errorf("after the strategic merge patch: image and generation = %q; want nginx:1.26 2", out)
	}
	if out := k.Must(strings.Replace(deployment("nginx:1.27"), "replicas: 3", "replicas: 2", 1), "apply", "--server-side", "--force-conflicts", "-f", "-"); !strings.Contains(out, "serverside-applied") {
		t.Errorf("server-side apply: %s", out)
	}
	yaml := k.Must("", "get", "deploy", "web", "-n", "shop", "-o", "yaml", "--show-managed-fields")
	for _, want := range []string{"image: nginx:1.27", "replicas: 2", "revisionHistoryLimit: 10", "manager: kubectl"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, yaml)
		}
	}

	// A watch on the follower sees a change made through another master.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := k.Cmd(ctx, "", "get", "deploy", "-n", "shop", "-w")
	var watchOut syncBuffer
	watch.Stdout, watch.Stderr = &watchOut, &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the watch to print the deployment", func() bool { return strings.Contains(watchOut.String(), "web") })
	other := c.Leader()
	if _, err := c.Client(other).AppsV1().Deployments("shop").Patch(context.Background(), "web", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"seen":"yes"}},"spec":{"replicas":7}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the watch to print the change", func() bool { return strings.Count(watchOut.String(), "web") >= 2 })
	cancel()
	_ = watch.Wait()

	if out := k.Must("", "describe", "deployment", "web", "-n", "shop"); !strings.Contains(out, "Replicas:") || !strings.Contains(out, "nginx:1.27") {
		t.Errorf("describe:\n%s", out)
	}
	k.Must("", "label", "deployment", "web", "-n", "shop", "tier=front")
	k.Must("", "scale", "deployment", "web", "-n", "shop", "--replicas=5")
	if out := k.Must("", "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas} {.metadata.labels.tier}"); out != "5 front" {
		t.Errorf("after scale and label: %q; want \"5 front\"", out)
	}
	k.Env = append(k.Env, "KUBE_EDITOR=sed -i -e s/replicas:\\ 5/replicas:\\ 4/")
	k.Must("", "edit", "deployment", "web", "-n", "shop")
	if out := k.Must("", "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"); out != "4" {
		t.Errorf("after edit: replicas %q; want 4", out)
	}
	out, err := k.Run(deployment("nginx:1.28"), "diff", "-f", "-")
	if err == nil || !strings.Contains(out, "nginx:1.28") {
		t.Errorf("diff should report the image change (exit 1): %v\n%s", err, out)
	}
	if out := k.Must("", "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); out != "nginx:1.27" {
		t.Errorf("diff changed the object: image %q", out)
	}
	if out := k.Must("", "get", "pods", "-A", "-o", "wide"); !strings.Contains(out, "No resources found") && !strings.Contains(out, "NAMESPACE") {
		t.Errorf("get pods -o wide:\n%s", out)
	}
	if out := k.Must("", "get", "all", "-n", "shop"); !strings.Contains(out, "deployment.apps/web") {
		t.Errorf("get all:\n%s", out)
	}
	if out := k.Must("", "api-resources"); !strings.Contains(out, "deployments") || !strings.Contains(out, "deploy") || !strings.Contains(out, "apps/v1") {
		t.Errorf("api-resources:\n%s", out)
	}
	if out := k.Must("", "explain", "pods.spec.containers.image"); !strings.Contains(out, "image") {
		t.Errorf("explain:\n%s", out)
	}
	if out := k.Must(deployment("nginx:1.27"), "delete", "-f", "-"); !strings.Contains(out, `deployment.apps "web" deleted`) {
		t.Errorf("delete -f: %s", out)
	}
	if out, err := k.Run("", "get", "deploy", "web", "-n", "shop"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("get after delete: %v %s", err, out)
	}
}

func TestInformerSurvivesLeaderKill(t *testing.T) {
	c := apitest.NewCluster(t, 3)
	leader := c.Leader()
	var watched *apitest.Member
	for _, m := range c.Members() {
		if m != leader {
			watched = m
		}
	}
	factory := informers.NewSharedInformerFactory(c.Client(watched), 0)
	podInformer := factory.Core().V1().Pods()
	lister := podInformer.Lister()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	listsBefore := watched.Lists.Load()

	writerFor := func(i int) *apitest.Member {
		ms := c.Members()
		return ms[i%len(ms)]
	}
	create := func(i int) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i)}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			_, err := c.Client(writerFor(i)).CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
			if err == nil || strings.Contains(err.Error(), "already exists") {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("create p%d: %v", i, err)
			}
		}
	}
	for i := 0; i < 20; i++ {
		create(i)
	}
	c.Kill(leader)
	for i := 20; i < 40; i++ {
		create(i)
	}
	waitUntil(t, 30*time.Second, "the informer cache to hold 40 pods", func() bool {
		pods, _ := lister.Pods("default").List(labels.Everything())
		return len(pods) == 40
	})
	truth, err := c.Client(watched).CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(truth.Items) != 40 {
		t.Fatalf("list = %d pods, %v", len(truth.Items), err)
	}
	cached, _ := lister.Pods("default").List(labels.Everything())
	want := map[string]string{}
	for _, p := range truth.Items {
		want[p.Name] = p.ResourceVersion
	}
	for _, p := range cached {
		if want[p.Name] != p.ResourceVersion {
			t.Errorf("cache has %s at %s; the store has it at %s", p.Name, p.ResourceVersion, want[p.Name])
		}
	}
	// The informer's watch on a follower outlived the leader: it never had to re-list.
	if relists := watched.Lists.Load() - listsBefore - 1; relists != 0 {
		t.Errorf("the informer re-listed %d times after a leader kill; want 0 (no 410 happened)", relists)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// syncBuffer is a bytes.Buffer safe for a writer process and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
