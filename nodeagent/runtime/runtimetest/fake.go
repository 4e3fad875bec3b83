package runtimetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// Fake is an in-memory runtime.Runtime: sandboxes get addresses from 10.244.0.0/16, containers
// "run" without processes until they are stopped or a test makes them exit with Exit or OOMKill,
// and every image can be pulled unless SetPullError says otherwise. It emits the same events as
// the real runtime. It is safe for concurrent use and cheap enough for hollow nodes.
type Fake struct {
	// ExecFunc, when set, runs Exec for running containers; the default writes nothing and
	// returns exit code 0.
	ExecFunc func(ctx context.Context, id string, cmd []string, streams runtime.Streams) (int, error)
	// PortForwardFunc, when set, serves PortForward for existing sandboxes; the default closes the
	// connection at once.
	PortForwardFunc func(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu         sync.Mutex // protects everything below
	sandboxes  map[string]*runtime.Sandbox
	containers map[string]*container
	images     map[string]runtime.ImageRef
	pullErrs   map[string]error
	injected   map[string][]error
	calls      []string
	nextIP     uint32
	nextPID    uint32
	events     chan runtime.Event
	lost       bool
	closed     bool
}

// container is a fake container: its configuration, status and log.
type container struct {
	cfg    runtime.ContainerConfig
	status runtime.ContainerStatus
	log    []logLine
	done   chan struct{} // closed when the container stops running (or is removed)
	notify chan struct{} // closed and replaced on every log line, for followers
}

type logLine struct {
	t      time.Time
	stderr bool
	text   string
}

var _ runtime.Runtime = (*Fake)(nil)

// NewFake returns an empty Fake.
func NewFake() *Fake {
	return &Fake{
		sandboxes:  map[string]*runtime.Sandbox{},
		containers: map[string]*container{},
		images:     map[string]runtime.ImageRef{},
		pullErrs:   map[string]error{},
		injected:   map[string][]error{},
		events:     make(chan runtime.Event, 1024),
		nextPID:    1000,
	}
}

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// InjectError makes the next call of method (e.g. "StartContainer") fail with err; calls queue.
func (f *Fake) InjectError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected[method] = append(f.injected[method], err)
}

// SetPullError makes EnsureImage fail with err (wrapped in runtime.ErrImagePull unless it already
// matches one of the image errors) whenever it would pull image; nil clears it.
func (f *Fake) SetPullError(image string, err error) {
	name, _ := runtime.NormalizeImage(image)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.pullErrs, name)
		return
	}
	f.pullErrs[name] = err
}

// Calls returns the recorded mutating calls, e.g. "RunSandbox <uid>", "StartContainer <id>".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Close closes the Events channel.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.events)
	}
	return nil
}

// begin records a call and returns an injected error, if any. f.mu must be held.
func (f *Fake) begin(method, arg string) error {
	f.calls = append(f.calls, method+" "+arg)
	if q := f.injected[method]; len(q) > 0 {
		f.injected[method] = q[1:]
		return q[0]
	}
	return nil
}

// send delivers an event without blocking, like the real runtime. f.mu must be held.
func (f *Fake) send(e runtime.Event) {
	if f.closed {
		return
	}
	if f.lost {
		select {
		case f.events <- runtime.Event{Type: runtime.EventResync, Time: f.now()}:
			f.lost = false
		default:
			return
		}
	}
	select {
	case f.events <- e:
	default:
		f.lost = true
	}
}

// Version implements runtime.Runtime.
func (f *Fake) Version(ctx context.Context) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Version", ""); err != nil {
		return "", "", err
	}
	return "fake", "1.0.0", nil
}

// RunSandbox implements runtime.Runtime.
func (f *Fake) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (*runtime.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RunSandbox", cfg.UID); err != nil {
		return nil, err
	}
	if cfg.UID == "" {
		return nil, errors.New("runtimetest: sandbox needs a pod UID")
	}
	if sb, ok := f.sandboxes[cfg.UID]; ok {
		return copySandbox(sb), nil
	}
	for _, other := range f.sandboxes {
		for _, p := range cfg.PortMappings {
			for _, q := range other.PortMappings {
				if p.HostPort == q.HostPort && protocol(p) == protocol(q) && (p.HostIP == q.HostIP || p.HostIP == "" || q.HostIP == "") {
					return nil, fmt.Errorf("%w: port %d is mapped by pod %s/%s", runtime.ErrHostPortInUse, p.HostPort, other.Namespace, other.Name)
				}
			}
		}
	}
	f.nextIP++
	sb := &runtime.Sandbox{
		UID: cfg.UID, Name: cfg.Name, Namespace: cfg.Namespace, NetNSPath: "/run/fake/netns/" + cfg.UID,
		IPs:          []string{fmt.Sprintf("10.244.%d.%d", (f.nextIP>>8)&0xff, f.nextIP&0xff)},
		PortMappings: append([]runtime.PortMapping(nil), cfg.PortMappings...),
		CreatedAt:    f.now(), State: runtime.SandboxReady,
	}
	f.sandboxes[cfg.UID] = sb
	return copySandbox(sb), nil
}

// protocol returns a mapping's protocol, TCP by default.
func protocol(p runtime.PortMapping) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func copySandbox(sb *runtime.Sandbox) *runtime.Sandbox {
	c := *sb
	c.IPs = append([]string(nil), sb.IPs...)
	c.PortMappings = append([]runtime.PortMapping(nil), sb.PortMappings...)
	return &c
}

// StopSandbox implements runtime.Runtime.
func (f *Fake) StopSandbox(ctx context.Context, podUID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StopSandbox", podUID); err != nil {
		return err
	}
	for id, c := range f.containers {
		if c.status.PodUID == podUID && c.status.State == runtime.ContainerRunning {
			f.exit(id, c, 137, false)
		}
	}
	delete(f.sandboxes, podUID)
	return nil
}

// ListSandboxes implements runtime.Runtime.
func (f *Fake) ListSandboxes(ctx context.Context) ([]*runtime.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*runtime.Sandbox, 0, len(f.sandboxes))
	for _, sb := range f.sandboxes {
		out = append(out, copySandbox(sb))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// EnsureImage implements runtime.Runtime.
func (f *Fake) EnsureImage(ctx context.Context, image string, policy corev1.PullPolicy, auth []runtime.RegistryAuth) (runtime.ImageRef, error) {
	name, err := runtime.NormalizeImage(image)
	if err != nil {
		return runtime.ImageRef{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("EnsureImage", name); err != nil {
		return runtime.ImageRef{}, err
	}
	ref, present := f.images[name]
	if present && policy != corev1.PullAlways {
		return ref, nil
	}
	if !present && policy == corev1.PullNever {
		return runtime.ImageRef{}, fmt.Errorf("%w: %s", runtime.ErrImageNeverPull, name)
	}
	if err := f.pullErrs[name]; err != nil {
		if errors.Is(err, runtime.ErrImagePull) || errors.Is(err, runtime.ErrInvalidImageName) {
			return runtime.ImageRef{}, err
		}
		return runtime.ImageRef{}, fmt.Errorf("%w: %s: %v", runtime.ErrImagePull, name, err)
	}
	ref = imageRef(name)
	f.images[name] = ref
	return ref, nil
}

// imageRef makes up stable digests for an image name.
func imageRef(name string) runtime.ImageRef {
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	return runtime.ImageRef{Name: name, Digest: sum("manifest " + name), ID: sum("config " + name)}
}

// ImportImage implements runtime.Runtime: it reads the image names from the tarball's index.json
// (the io.containerd.image.name annotations) and makes them present.
func (f *Fake) ImportImage(ctx context.Context, r io.Reader) ([]string, error) {
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("runtimetest: import: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") != "index.json" {
			continue
		}
		var idx struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.NewDecoder(tr).Decode(&idx); err != nil {
			return nil, fmt.Errorf("runtimetest: import: index.json: %w", err)
		}
		for _, m := range idx.Manifests {
			if n := m.Annotations["io.containerd.image.name"]; n != "" {
				names = append(names, n)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ImportImage", strings.Join(names, ",")); err != nil {
		return nil, err
	}
	for _, n := range names {
		f.images[n] = imageRef(n)
	}
	return names, nil
}

// CreateContainer implements runtime.Runtime.
func (f *Fake) CreateContainer(ctx context.Context, sb *runtime.Sandbox, cfg runtime.ContainerConfig) (string, error) {
	id := runtime.ContainerID(sb.UID, cfg.Name, cfg.Attempt)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CreateContainer", id); err != nil {
		return "", err
	}
	if _, ok := f.sandboxes[sb.UID]; !ok {
		return "", fmt.Errorf("%w: pod %s", runtime.ErrSandboxNotReady, sb.UID)
	}
	if _, ok := f.containers[id]; ok {
		return "", fmt.Errorf("%w: container %s", runtime.ErrAlreadyExists, id)
	}
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	f.containers[id] = &container{
		cfg: cfg,
		status: runtime.ContainerStatus{
			ID: id, PodUID: sb.UID, PodName: sb.Name, PodNamespace: sb.Namespace, Name: cfg.Name,
			Attempt: cfg.Attempt, State: runtime.ContainerCreated, CreatedAt: f.now(), Image: cfg.Image,
			LogPath: cfg.LogPath, Labels: labels,
		},
		done:   make(chan struct{}),
		notify: make(chan struct{}),
	}
	return id, nil
}

// lookup returns a container or ErrNotFound. f.mu must be held.
func (f *Fake) lookup(id string) (*container, error) {
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("%w: container %s", runtime.ErrNotFound, id)
	}
	return c, nil
}

// StartContainer implements runtime.Runtime.
func (f *Fake) StartContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StartContainer", id); err != nil {
		return err
	}
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	if c.status.State != runtime.ContainerCreated {
		return fmt.Errorf("runtimetest: container %s was already started", id)
	}
	f.nextPID++
	c.status.State, c.status.PID, c.status.StartedAt = runtime.ContainerRunning, f.nextPID, f.now()
	return nil
}

// StopContainer implements runtime.Runtime: a running container exits with 143 (SIGTERM) when
// grace is positive and 137 (SIGKILL) otherwise.
func (f *Fake) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StopContainer", id); err != nil {
		return err
	}
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	if c.status.State == runtime.ContainerRunning {
		code := int32(137)
		if grace > 0 {
			code = 143
		}
		f.exit(id, c, code, false)
	}
	return nil
}

// exit moves a running container to Exited and announces it. f.mu must be held.
func (f *Fake) exit(id string, c *container, code int32, oom bool) {
	c.status.State, c.status.PID, c.status.ExitCode, c.status.FinishedAt = runtime.ContainerExited, 0, code, f.now()
	c.status.OOMKilled = c.status.OOMKilled || oom
	switch {
	case c.status.OOMKilled:
		c.status.Reason = runtime.ReasonOOMKilled
	case code == 0:
		c.status.Reason = runtime.ReasonCompleted
	default:
		c.status.Reason = runtime.ReasonError
	}
	close(c.done)
	f.send(runtime.Event{Type: runtime.EventContainerExited, ContainerID: id, PodUID: c.status.PodUID, ExitCode: code, Time: c.status.FinishedAt})
}

// Exit makes a running container's main process exit with code, as if it had ended by itself.
func (f *Fake) Exit(id string, code int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	if c.status.State != runtime.ContainerRunning {
		return fmt.Errorf("%w: %s", runtime.ErrNotRunning, id)
	}
	f.exit(id, c, code, false)
	return nil
}

// OOMKill makes a running container exit as killed by the OOM killer (exit code 137), with an
// EventContainerOOM before the exit event.
func (f *Fake) OOMKill(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	if c.status.State != runtime.ContainerRunning {
		return fmt.Errorf("%w: %s", runtime.ErrNotRunning, id)
	}
	f.send(runtime.Event{Type: runtime.EventContainerOOM, ContainerID: id, PodUID: c.status.PodUID, Time: f.now()})
	f.exit(id, c, 137, true)
	return nil
}

// WriteLog appends a line (without its newline) to a container's log, on stderr when stderr is
// set.
func (f *Fake) WriteLog(id string, stderr bool, line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return err
	}
	c.log = append(c.log, logLine{t: f.now(), stderr: stderr, text: line})
	close(c.notify)
	c.notify = make(chan struct{})
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (f *Fake) RemoveContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RemoveContainer", id); err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return nil
	}
	if c.status.State == runtime.ContainerRunning {
		f.exit(id, c, 137, false)
	}
	delete(f.containers, id)
	return nil
}

// ContainerStatus implements runtime.Runtime.
func (f *Fake) ContainerStatus(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	return copyStatus(c.status), nil
}

func copyStatus(s runtime.ContainerStatus) runtime.ContainerStatus {
	if s.Labels != nil {
		l := make(map[string]string, len(s.Labels))
		for k, v := range s.Labels {
			l[k] = v
		}
		s.Labels = l
	}
	return s
}

// ListContainers implements runtime.Runtime.
func (f *Fake) ListContainers(ctx context.Context, filter runtime.ContainerFilter) ([]runtime.ContainerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.ContainerStatus
	for _, c := range f.containers {
		if filter.PodUID == "" || c.status.PodUID == filter.PodUID {
			out = append(out, copyStatus(c.status))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.PodUID != b.PodUID {
			return a.PodUID < b.PodUID
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Attempt < b.Attempt
	})
	return out, nil
}

// Events implements runtime.Runtime.
func (f *Fake) Events() <-chan runtime.Event { return f.events }

// running returns a running container and its done channel, or ErrNotRunning.
func (f *Fake) running(id string) (*container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return nil, err
	}
	if c.status.State != runtime.ContainerRunning {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotRunning, id)
	}
	return c, nil
}

// Exec implements runtime.Runtime.
func (f *Fake) Exec(ctx context.Context, id string, cmd []string, streams runtime.Streams) (int, error) {
	if _, err := f.running(id); err != nil {
		return -1, err
	}
	if f.ExecFunc != nil {
		return f.ExecFunc(ctx, id, cmd, streams)
	}
	return 0, nil
}

// Attach implements runtime.Runtime: it streams log lines written from now on until the
// container stops or ctx ends; input is discarded.
func (f *Fake) Attach(ctx context.Context, id string, streams runtime.Streams) error {
	c, err := f.running(id)
	if err != nil {
		return err
	}
	f.mu.Lock()
	from := len(c.log)
	f.mu.Unlock()
	return f.follow(ctx, c, from, runtime.LogOptions{}, streams.Stdout, streams.Stderr, 0)
}

// PortForward implements runtime.Runtime.
func (f *Fake) PortForward(ctx context.Context, podUID string, port int32, conn io.ReadWriteCloser) error {
	f.mu.Lock()
	_, ok := f.sandboxes[podUID]
	f.mu.Unlock()
	if !ok {
		conn.Close()
		return fmt.Errorf("%w: sandbox of pod %s", runtime.ErrNotFound, podUID)
	}
	if f.PortForwardFunc != nil {
		return f.PortForwardFunc(ctx, podUID, port, conn)
	}
	return conn.Close()
}

// Logs implements runtime.Runtime for the lines given to WriteLog.
func (f *Fake) Logs(ctx context.Context, id string, opts runtime.LogOptions, w io.Writer) error {
	f.mu.Lock()
	c, err := f.lookup(id)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	var keep []int
	for i, l := range c.log {
		if opts.Since.IsZero() || !l.t.Before(opts.Since) {
			keep = append(keep, i)
		}
	}
	if opts.TailLines != nil && int64(len(keep)) > *opts.TailLines {
		keep = keep[len(keep)-int(max(0, *opts.TailLines)):]
	}
	var buf bytes.Buffer
	for _, i := range keep {
		buf.WriteString(formatLine(c.log[i], opts.Timestamps))
	}
	from := len(c.log)
	f.mu.Unlock()

	out := buf.Bytes()
	if opts.LimitBytes > 0 && int64(len(out)) >= opts.LimitBytes {
		_, err := w.Write(out[:opts.LimitBytes])
		return err
	}
	if _, err := w.Write(out); err != nil {
		return err
	}
	if !opts.Follow {
		return nil
	}
	written := int64(len(out))
	return f.follow(ctx, c, from, opts, w, w, written)
}

// follow writes log lines from index from on until the container is no longer running or ctx
// ends.
func (f *Fake) follow(ctx context.Context, c *container, from int, opts runtime.LogOptions, stdout, stderr io.Writer, written int64) error {
	for {
		f.mu.Lock()
		lines := append([]logLine(nil), c.log[from:]...)
		from = len(c.log)
		notify, done := c.notify, c.done
		f.mu.Unlock()
		for _, l := range lines {
			out := stdout
			if l.stderr && stderr != nil {
				out = stderr
			}
			s := formatLine(l, opts.Timestamps)
			if opts.LimitBytes > 0 && written+int64(len(s)) >= opts.LimitBytes {
				if out != nil {
					io.WriteString(out, s[:opts.LimitBytes-written])
				}
				return nil
			}
			written += int64(len(s))
			if out != nil {
				if _, err := io.WriteString(out, s); err != nil {
					return err
				}
			}
		}
		select {
		case <-notify:
		case <-done:
			f.mu.Lock()
			rest := len(c.log) > from
			f.mu.Unlock()
			if !rest {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func formatLine(l logLine, timestamps bool) string {
	if timestamps {
		return l.t.UTC().Format(time.RFC3339Nano) + " " + l.text + "\n"
	}
	return l.text + "\n"
}

// ContainerConfig returns the configuration a container was created with, for tests that check
// what a caller asked the runtime for.
func (f *Fake) ContainerConfig(id string) (runtime.ContainerConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(id)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	return c.cfg, nil
}
