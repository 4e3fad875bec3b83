package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/containers"
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/capstan-io/capstan/nodeagent/runtime/internal/crilog"
	"github.com/capstan-io/capstan/nodeagent/runtime/internal/netns"
)

// shimGroupAnnotation makes the runc shim serve every container with the same value from one shim
// process (RUNTIME.md pitfall 4: it is read from the OCI spec's annotations, not from labels).
const shimGroupAnnotation = "io.containerd.runc.v2.group"

// cfsPeriod is the CFS period in microseconds; quotas are given per period.
const cfsPeriod = 100000

// cleanupTimeout bounds the clean-up work done after the caller's context failed.
const cleanupTimeout = 30 * time.Second

// CreateContainer implements Runtime.
func (r *Containerd) CreateContainer(ctx context.Context, sb *Sandbox, cfg ContainerConfig) (string, error) {
	if err := validateContainerConfig(sb, cfg); err != nil {
		return "", err
	}
	if !netns.Exists(sb.NetNSPath) {
		return "", fmt.Errorf("%w: pod %s", ErrSandboxNotReady, sb.UID)
	}
	ctx = r.nsctx(ctx)
	id := ContainerID(sb.UID, cfg.Name, cfg.Attempt)
	unlock := r.locks.lock("ctr/" + id)
	defer unlock()

	img, err := r.client.GetImage(ctx, cfg.Image.Name)
	if err != nil {
		return "", translate(err, "image "+cfg.Image.Name)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		return "", err
	}
	cgroup := path.Join(r.podCgroup(sb.UID), id)
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		labelPodUID: sb.UID, labelPodName: sb.Name, labelPodNS: sb.Namespace, labelContainer: cfg.Name,
		labelAttempt: strconv.FormatUint(uint64(cfg.Attempt), 10), labelLogPath: cfg.LogPath,
		labelImageName: cfg.Image.Name, labelImageID: cfg.Image.ID, labelImageDgst: cfg.Image.Digest,
		labelCgroup: cgroup, labelTTY: strconv.FormatBool(cfg.TTY),
		labelStdin: strconv.FormatBool(cfg.Stdin), labelStdinOnce: strconv.FormatBool(cfg.StdinOnce),
	} {
		labels[k] = v
	}
	opts := []containerd.NewContainerOpts{
		containerd.WithContainerLabels(labels), // first: it replaces the label map
		containerd.WithImage(img),
		containerd.WithImageStopSignal(img, "SIGTERM"),
		containerd.WithSnapshotter(r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(specOpts(img, sb, cfg, cgroup)...),
		containerd.WithRuntime(r.cfg.RuntimeName, nil),
	}
	_, err = r.client.NewContainer(ctx, id, opts...)
	if errdefs.IsAlreadyExists(err) {
		if _, lerr := r.client.LoadContainer(ctx, id); lerr == nil {
			return "", fmt.Errorf("%w: container %s", ErrAlreadyExists, id)
		}
		// A snapshot left by a failed create that garbage collection has not removed yet.
		if rerr := r.client.SnapshotService(r.cfg.Snapshotter).Remove(ctx, id); rerr != nil && !errdefs.IsNotFound(rerr) {
			return "", translate(err, "create container "+id)
		}
		_, err = r.client.NewContainer(ctx, id, opts...)
	}
	if err != nil {
		return "", translate(err, "create container "+id)
	}
	return id, nil
}

// validateContainerConfig checks what CreateContainer cannot leave to containerd.
func validateContainerConfig(sb *Sandbox, cfg ContainerConfig) error {
	var errs []error
	if sb == nil {
		return errors.New("runtime: CreateContainer needs a sandbox")
	}
	if err := validUID(sb.UID); err != nil {
		errs = append(errs, err)
	}
	if cfg.Name == "" {
		errs = append(errs, errors.New("container name must be set"))
	}
	if cfg.Image.Name == "" {
		errs = append(errs, errors.New("image must be set"))
	}
	if !filepath.IsAbs(cfg.LogPath) {
		errs = append(errs, fmt.Errorf("log path %q must be absolute", cfg.LogPath))
	}
	for _, m := range cfg.Mounts {
		if !filepath.IsAbs(m.HostPath) || !path.IsAbs(m.ContainerPath) {
			errs = append(errs, fmt.Errorf("mount %q -> %q: paths must be absolute", m.HostPath, m.ContainerPath))
		}
	}
	for k := range cfg.Labels {
		if strings.HasPrefix(k, labelPrefix) {
			errs = append(errs, fmt.Errorf("label %q uses the reserved prefix %q", k, labelPrefix))
		}
	}
	if cfg.Resources.CPURequestMillis < 0 || cfg.Resources.CPULimitMillis < 0 || cfg.Resources.MemoryLimitBytes < 0 {
		errs = append(errs, fmt.Errorf("resources %+v must not be negative", cfg.Resources))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runtime: invalid container %q: %w", cfg.Name, err)
	}
	return nil
}

// specOpts builds the OCI spec of a container: the image's configuration overridden by cfg, the
// pod's network namespace, a cgroup under the pod's, and one shim per pod.
func specOpts(img containerd.Image, sb *Sandbox, cfg ContainerConfig, cgroup string) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case len(cfg.Command) > 0:
		opts = append(opts, oci.WithImageConfig(img), oci.WithProcessArgs(append(append([]string(nil), cfg.Command...), cfg.Args...)...))
	case len(cfg.Args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, cfg.Args))
	default:
		opts = append(opts, oci.WithImageConfig(img))
	}
	var env []string
	if cfg.Hostname != "" {
		opts = append(opts, oci.WithHostname(cfg.Hostname))
		env = append(env, "HOSTNAME="+cfg.Hostname)
	}
	for _, e := range cfg.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if len(env) > 0 {
		opts = append(opts, oci.WithEnv(env))
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if len(cfg.Mounts) > 0 {
		var ms []specs.Mount
		for _, m := range cfg.Mounts {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			ms = append(ms, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: []string{"rbind", "rprivate", mode}})
		}
		opts = append(opts, oci.WithMounts(ms))
	}
	switch {
	case cfg.RunAsUser != nil && cfg.RunAsGroup != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*cfg.RunAsUser), uint32(*cfg.RunAsGroup)))
	case cfg.RunAsUser != nil:
		opts = append(opts, oci.WithUserID(uint32(*cfg.RunAsUser)))
	case cfg.RunAsGroup != nil:
		gid := uint32(*cfg.RunAsGroup)
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Process.User.GID = gid
			return nil
		})
	}
	if cfg.TTY {
		opts = append(opts, oci.WithTTY)
	}
	res := cfg.Resources
	if res.CPURequestMillis > 0 {
		opts = append(opts, oci.WithCPUShares(uint64(max(2, res.CPURequestMillis*1024/1000))))
	}
	if res.CPULimitMillis > 0 {
		opts = append(opts, oci.WithCPUCFS(max(1000, res.CPULimitMillis*cfsPeriod/1000), cfsPeriod))
	}
	if res.MemoryLimitBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimitBytes)))
	}
	opts = append(opts,
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNSPath}),
		oci.WithCgroup(cgroup),
		oci.WithAnnotations(map[string]string{shimGroupAnnotation: "capstan-pod-" + sb.UID}),
		func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			if s.Process == nil || len(s.Process.Args) == 0 {
				return fmt.Errorf("runtime: container %q has no command: the image has neither entrypoint nor cmd", cfg.Name)
			}
			return nil
		},
	)
	return opts
}

// StartContainer implements Runtime.
func (r *Containerd) StartContainer(ctx context.Context, id string) error {
	ctx = r.nsctx(ctx)
	unlock := r.locks.lock("ctr/" + id)
	defer unlock()
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return translate(err, "container "+id)
	}
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return translate(err, "container "+id)
	}
	if _, ok := info.Labels[labelStartedAt]; ok {
		return fmt.Errorf("runtime: container %s was already started", id)
	}
	sc, creator, err := r.newStdio(id, info.Labels)
	if err != nil {
		return err
	}
	task, err := c.NewTask(ctx, creator)
	if err != nil {
		sc.close()
		return translate(err, "create task of "+id)
	}
	if err := sc.afterCreate(); err != nil {
		r.abortTask(task, sc)
		return err
	}
	// Taken before Start: a short-lived process can exit before Start returns.
	startedAt := time.Now().UTC()
	if err := task.Start(ctx); err != nil {
		r.abortTask(task, sc)
		return translate(err, "start "+id)
	}
	r.setStdio(id, sc)
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: startedAt.Format(time.RFC3339Nano)}); err != nil {
		return translate(err, "record the start of "+id)
	}
	return nil
}

// abortTask deletes a task that could not be started.
func (r *Containerd) abortTask(task containerd.Task, sc *stdioConn) {
	ctx, cancel := context.WithTimeout(r.nsctx(context.Background()), cleanupTimeout)
	defer cancel()
	task.Delete(ctx, containerd.WithProcessKill)
	sc.close()
}

// StopContainer implements Runtime.
func (r *Containerd) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.nsctx(ctx)
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return translate(err, "container "+id)
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(err, "task of "+id)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return translate(err, "task of "+id)
	}
	switch st.Status {
	case containerd.Stopped:
		_, err := r.finalize(ctx, id)
		return err
	case containerd.Created:
		// Never started: nothing to stop, only the task to drop.
		_, err := task.Delete(ctx, containerd.WithProcessKill)
		return translate(ignoreNotFound(err), "task of "+id)
	}
	// Wait with a context of our own so that a cancelled ctx still leaves a consistent state.
	wctx, cancel := context.WithCancel(r.nsctx(context.Background()))
	defer cancel()
	exited, err := task.Wait(wctx)
	if err != nil {
		return translate(err, "wait for "+id)
	}
	if grace > 0 {
		sig, err := containerd.GetStopSignal(ctx, c, syscall.SIGTERM)
		if err != nil {
			sig = syscall.SIGTERM
		}
		if err := task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) {
			return translate(err, "signal "+id)
		}
		t := time.NewTimer(grace)
		select {
		case <-exited:
			t.Stop()
			_, err := r.finalize(ctx, id)
			return err
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	// The grace period is over (or zero): kill every process of the container, not only the main
	// one, which may ignore SIGTERM (RUNTIME.md pitfall 5).
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return translate(err, "kill "+id)
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err = r.finalize(ctx, id)
	return err
}

// RemoveContainer implements Runtime.
func (r *Containerd) RemoveContainer(ctx context.Context, id string) error {
	ctx = r.nsctx(ctx)
	unlock := r.locks.lock("ctr/" + id)
	defer unlock()
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return translate(err, "container "+id)
	}
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return translate(ignoreNotFound(err), "container "+id)
	}
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return translate(err, "delete the task of "+id)
		}
	} else if !errdefs.IsNotFound(err) {
		return translate(err, "task of "+id)
	}
	r.dropStdio(id)
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return translate(err, "delete container "+id)
	}
	if p := info.Labels[labelLogPath]; p != "" {
		for _, f := range []string{p, p + crilog.RotatedSuffix} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// ContainerStatus implements Runtime. A container whose main process has exited is finalised on
// the way (see finalize).
func (r *Containerd) ContainerStatus(ctx context.Context, id string) (ContainerStatus, error) {
	ctx = r.nsctx(ctx)
	c, err := r.client.ContainerService().Get(ctx, id)
	if err != nil {
		return ContainerStatus{}, translate(err, "container "+id)
	}
	resp, err := r.client.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: id})
	var proc *tasktypes.Process
	switch {
	case err == nil:
		proc = resp.Process
	case !errdefs.IsNotFound(grpcerr(err)):
		return ContainerStatus{}, translate(grpcerr(err), "task of "+id)
	}
	if proc != nil && proc.Status == tasktypes.Status_STOPPED {
		labels, err := r.finalize(ctx, id)
		if err != nil {
			return ContainerStatus{}, err
		}
		if labels != nil {
			c.Labels, proc = labels, nil
		}
	}
	return containerStatus(c, proc), nil
}

// ListContainers implements Runtime.
func (r *Containerd) ListContainers(ctx context.Context, filter ContainerFilter) ([]ContainerStatus, error) {
	ctx = r.nsctx(ctx)
	f := fmt.Sprintf("labels.%q", labelPodUID)
	if filter.PodUID != "" {
		f = fmt.Sprintf("labels.%q==%q", labelPodUID, filter.PodUID)
	}
	cs, err := r.client.ContainerService().List(ctx, f)
	if err != nil {
		return nil, translate(err, "list containers")
	}
	procs, err := r.taskStates(ctx, cs, filter.PodUID != "")
	if err != nil {
		return nil, err
	}
	out := make([]ContainerStatus, 0, len(cs))
	for _, c := range cs {
		proc := procs[c.ID]
		if proc != nil && proc.Status == tasktypes.Status_STOPPED {
			labels, err := r.finalize(ctx, c.ID)
			if err != nil {
				return nil, err
			}
			if labels != nil {
				c.Labels, proc = labels, nil
			}
		}
		out = append(out, containerStatus(c, proc))
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

// taskStates returns the state of the tasks of containers cs by container ID. The daemon asks
// a task's shim for its state on every query, and listing tasks asks every shim on the node: for
// one pod's containers (few) it queries their tasks one by one, so that a pod's sync costs a
// constant number of shim calls instead of one per container on the node.
func (r *Containerd) taskStates(ctx context.Context, cs []containers.Container, few bool) (map[string]*tasktypes.Process, error) {
	procs := map[string]*tasktypes.Process{}
	if !few {
		resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return nil, translate(grpcerr(err), "list tasks")
		}
		for _, p := range resp.Tasks {
			procs[p.ID] = p
		}
		return procs, nil
	}
	for _, c := range cs {
		resp, err := r.client.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: c.ID})
		switch {
		case err == nil:
			procs[c.ID] = resp.Process
		case !errdefs.IsNotFound(grpcerr(err)):
			return nil, translate(grpcerr(err), "task of "+c.ID)
		}
	}
	return procs, nil
}

// finalize records the final status of a container whose main process has exited in its labels
// (exit code, time, OOM kill) and deletes its task, which releases the shim, the cgroup and the
// logger; the record and the log stay for status and `logs --previous`. It returns the new labels,
// or nil when there was nothing to finalise. It is idempotent and safe to run concurrently.
func (r *Containerd) finalize(ctx context.Context, id string) (map[string]string, error) {
	unlock := r.locks.lock("ctr/" + id)
	defer unlock()
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err, "container "+id)
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err, "task of "+id)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return nil, translate(err, "task of "+id)
	}
	if st.Status != containerd.Stopped {
		return nil, nil
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return nil, translate(err, "container "+id)
	}
	oom := labels[labelOOMKilled] == "true" || cgroupOOMKills(labels[labelCgroup]) > 0
	code := int32(st.ExitStatus)
	reason := exitReason(code, oom)
	finished := st.ExitTime
	if finished.IsZero() {
		finished = time.Now()
	}
	labels, err = c.SetLabels(ctx, map[string]string{
		labelExitCode:   strconv.Itoa(int(code)),
		labelFinishedAt: finished.UTC().Format(time.RFC3339Nano),
		labelOOMKilled:  strconv.FormatBool(oom),
		labelReason:     reason,
	})
	if err != nil {
		return nil, translate(err, "record the exit of "+id)
	}
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		return nil, translate(err, "delete the task of "+id)
	}
	r.dropStdio(id)
	return labels, nil
}

// containerStatus derives a status from a container record and its task (nil when it has none).
func containerStatus(c containers.Container, proc *tasktypes.Process) ContainerStatus {
	l := c.Labels
	attempt, _ := strconv.ParseUint(l[labelAttempt], 10, 32)
	st := ContainerStatus{
		ID: c.ID, PodUID: l[labelPodUID], PodName: l[labelPodName], PodNamespace: l[labelPodNS],
		Name: l[labelContainer], Attempt: uint32(attempt), CreatedAt: c.CreatedAt,
		StartedAt: parseTime(l[labelStartedAt]), LogPath: l[labelLogPath],
		Image: ImageRef{Name: l[labelImageName], Digest: l[labelImageDgst], ID: l[labelImageID]},
	}
	for k, v := range l {
		if !strings.HasPrefix(k, labelPrefix) && k != containerd.StopSignalLabel {
			if st.Labels == nil {
				st.Labels = map[string]string{}
			}
			st.Labels[k] = v
		}
	}
	switch {
	case proc != nil:
		switch proc.Status {
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			st.State, st.PID = ContainerRunning, proc.Pid
		case tasktypes.Status_CREATED:
			st.State = ContainerCreated
		case tasktypes.Status_STOPPED:
			st.State, st.ExitCode = ContainerExited, int32(proc.ExitStatus)
			if proc.ExitedAt != nil {
				st.FinishedAt = proc.ExitedAt.AsTime()
			}
			st.OOMKilled = l[labelOOMKilled] == "true"
			st.Reason = exitReason(st.ExitCode, st.OOMKilled)
		default:
			st.State = ContainerUnknown
		}
	case l[labelFinishedAt] != "":
		code, _ := strconv.Atoi(l[labelExitCode])
		st.State, st.ExitCode = ContainerExited, int32(code)
		st.FinishedAt = parseTime(l[labelFinishedAt])
		st.OOMKilled = l[labelOOMKilled] == "true"
		st.Reason = l[labelReason]
	case l[labelStartedAt] != "":
		// Started, but the task vanished without an exit status (the host rebooted).
		st.State, st.ExitCode, st.Reason = ContainerExited, 255, ReasonUnknown
	default:
		st.State = ContainerCreated
	}
	return st
}

// exitReason returns the kubelet's reason for an exit.
func exitReason(code int32, oom bool) string {
	switch {
	case oom:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	}
	return ReasonError
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// grpcerr converts an error of a raw gRPC service call into a containerd error.
func grpcerr(err error) error { return cerrdefs.FromGRPC(err) }
