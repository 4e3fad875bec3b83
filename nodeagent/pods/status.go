package pods

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// containerIDPrefix is the runtime prefix of the container IDs in pod status.
const containerIDPrefix = "containerd://"

// statusWriteAttempts bounds the retries of a status write that meets conflicts.
const statusWriteAttempts = 3

// errContainerNotFoundSentinel is kubeletapi.ErrContainerNotFound itself, which the kubelet API
// server words as the kubelet does.
var errContainerNotFoundSentinel = kubeletapi.ErrContainerNotFound

// notFoundError matches kubeletapi.ErrContainerNotFound with a message of its own.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return kubeletapi.ErrContainerNotFound }

func errContainerNotFound(msg string) error { return &notFoundError{msg: msg} }

// apiTime converts a runtime time to the API's second precision, so that a status read back
// from the server compares equal to the one written.
func apiTime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t.Truncate(time.Second))
}

// publish computes the pod's status from the runtime's containers and writes it when it changed.
// sandboxOK is false when the sandbox or volumes could not be set up.
func (w *worker) publish(ctx context.Context, pod *corev1.Pod, byName map[string][]runtime.ContainerStatus, sandboxOK bool, next *wakeup) {
	st := w.computeStatus(pod, byName, sandboxOK)
	w.mu.Lock()
	w.status = st.DeepCopy()
	w.mu.Unlock()
	w.writeStatus(ctx, st, next)
	if isTerminal(st.Phase) {
		w.poke() // stop what is left at once
	}
}

// terminated converts an exited container.
func terminated(c *runtime.ContainerStatus) *corev1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = runtime.ReasonError
		if c.ExitCode == 0 {
			reason = runtime.ReasonCompleted
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: reason, StartedAt: apiTime(c.StartedAt), FinishedAt: apiTime(c.FinishedAt),
		ContainerID: containerIDPrefix + c.ID,
	}
}

// containerStatus computes one container's status from its attempts.
func (w *worker) containerStatus(c *corev1.Container, attempts []runtime.ContainerStatus, pendingReason string, isInit bool) corev1.ContainerStatus {
	st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	l := latest(attempts)
	waiting := w.waiting[c.Name]
	if l == nil {
		if waiting == nil {
			waiting = &corev1.ContainerStateWaiting{Reason: pendingReason}
		}
		st.State.Waiting = waiting
		return st
	}
	st.RestartCount = int32(l.Attempt)
	st.ImageID = l.Image.RepoDigest()
	st.ContainerID = containerIDPrefix + l.ID
	var prev *runtime.ContainerStatus
	if len(attempts) > 1 {
		prev = &attempts[len(attempts)-2]
	}
	switch l.State {
	case runtime.ContainerRunning:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(l.StartedAt)}
		if prev != nil && prev.State != runtime.ContainerRunning {
			st.LastTerminationState.Terminated = terminated(prev)
		}
		started, ready := w.probeState(c, l.ID, isInit)
		*st.Started = started
		st.Ready = ready
	case runtime.ContainerCreated:
		if waiting == nil {
			waiting = &corev1.ContainerStateWaiting{Reason: waitingContainerCreating}
		}
		st.State.Waiting = waiting
		if prev != nil {
			st.LastTerminationState.Terminated = terminated(prev)
		}
	default:
		if waiting != nil {
			st.State.Waiting = waiting
			st.LastTerminationState.Terminated = terminated(l)
		} else {
			st.State.Terminated = terminated(l)
			if prev != nil {
				st.LastTerminationState.Terminated = terminated(prev)
			}
		}
		if isInit && l.ExitCode == 0 {
			st.Ready = true
		}
	}
	return st
}

// computeStatus derives the pod's status (the parts the node owns) and merges it into the known
// status: conditions of other owners, and lastTransitionTime of unchanged conditions, are kept.
func (w *worker) computeStatus(pod *corev1.Pod, byName map[string][]runtime.ContainerStatus, sandboxOK bool) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	now := apiTime(w.m.clock.Now())
	if st.StartTime == nil {
		st.StartTime = &now
	}
	st.HostIP = first(w.m.cfg.NodeIPs)
	st.HostIPs = nil
	for _, ip := range w.m.cfg.NodeIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if w.sandbox != nil && w.sandbox.State == runtime.SandboxReady {
		st.PodIP = first(w.sandbox.IPs)
		st.PodIPs = nil
		for _, ip := range w.sandbox.IPs {
			st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
		}
	}

	inited := initialized(pod, byName)
	initFailed := false
	var incompleteInit []string
	st.InitContainerStatuses = nil
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		reason := waitingPodInitializing
		if i == 0 || !sandboxOK {
			reason = waitingContainerCreating
		}
		cs := w.containerStatus(c, byName[c.Name], reason, true)
		if inited && len(byName[c.Name]) == 0 {
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: runtime.ReasonCompleted}}
			cs.Ready = true
		}
		if l := latest(byName[c.Name]); l != nil && l.State == runtime.ContainerExited && l.ExitCode != 0 &&
			pod.Spec.RestartPolicy == corev1.RestartPolicyNever && !inited {
			initFailed = true
		}
		if !cs.Ready {
			incompleteInit = append(incompleteInit, c.Name)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}

	appReason := waitingContainerCreating
	if !inited {
		appReason = waitingPodInitializing
	}
	st.ContainerStatuses = nil
	var running, waiting, stopped, succeeded int
	var unready []string
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := w.containerStatus(c, byName[c.Name], appReason, false)
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++
		default:
			waiting++
		}
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	sort.Slice(st.ContainerStatuses, func(i, j int) bool { return st.ContainerStatuses[i].Name < st.ContainerStatuses[j].Name })

	if !isTerminal(st.Phase) {
		st.Phase = phase(pod.Spec.RestartPolicy, inited, initFailed, running, waiting, stopped, succeeded)
	}
	terminal := isTerminal(st.Phase)

	sandboxReady := sandboxOK && w.sandbox != nil && w.sandbox.State == runtime.SandboxReady && !terminal
	setCondition(st, corev1.PodReadyToStartContainers, sandboxReady, "", "", now)
	switch {
	case len(incompleteInit) == 0:
		setCondition(st, corev1.PodInitialized, true, "", "", now)
	case terminal && !initFailed:
		setCondition(st, corev1.PodInitialized, true, "PodCompleted", "", now)
	default:
		setCondition(st, corev1.PodInitialized, false, "ContainersNotInitialized",
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incompleteInit, " ")), now)
	}
	switch {
	case terminal && st.Phase == corev1.PodSucceeded:
		setCondition(st, corev1.ContainersReady, false, "PodCompleted", "", now)
		setCondition(st, corev1.PodReady, false, "PodCompleted", "", now)
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		setCondition(st, corev1.ContainersReady, false, "ContainersNotReady", msg, now)
		setCondition(st, corev1.PodReady, false, "ContainersNotReady", msg, now)
	default:
		setCondition(st, corev1.ContainersReady, true, "", "", now)
		if gates := unreadyGates(pod, st); len(gates) > 0 {
			setCondition(st, corev1.PodReady, false, "ReadinessGatesNotReady",
				fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gates[0]), now)
		} else {
			setCondition(st, corev1.PodReady, true, "", "", now)
		}
	}
	return st
}

// phase is the kubelet's pod phase rule.
func phase(policy corev1.RestartPolicy, inited, initFailed bool, running, waiting, stopped, succeeded int) corev1.PodPhase {
	switch {
	case initFailed:
		return corev1.PodFailed
	case !inited:
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch {
		case policy == corev1.RestartPolicyAlways || policy == "":
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// unreadyGates returns the readiness gates whose condition is not True.
func unreadyGates(pod *corev1.Pod, st *corev1.PodStatus) []string {
	var out []string
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, c := range st.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			out = append(out, string(g.ConditionType))
		}
	}
	return out
}

// setCondition sets condition t, keeping its lastTransitionTime when its status is unchanged.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason, msg string, now metav1.Time) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	c := corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: now}
	for i := range st.Conditions {
		if st.Conditions[i].Type != t {
			continue
		}
		if st.Conditions[i].Status == status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			c.LastProbeTime = st.Conditions[i].LastProbeTime
		}
		st.Conditions[i] = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// writeStatus writes st when it differs from the pod's known status: at once when the phase
// changes, otherwise at most once per StatusInterval. Conflicts are retried on a fresh read.
func (w *worker) writeStatus(ctx context.Context, st *corev1.PodStatus, next *wakeup) {
	w.mu.Lock()
	base := w.pod
	w.mu.Unlock()
	if apiequality.Semantic.DeepEqual(&base.Status, st) {
		return
	}
	if iv := w.m.cfg.StatusInterval; iv > 0 && base.Status.Phase == st.Phase && !w.lastWrite.IsZero() {
		if due := w.lastWrite.Add(iv); next.now.Before(due) {
			next.at(due)
			return
		}
	}
	client := w.m.cfg.Client.CoreV1().Pods(base.Namespace)
	for try := 0; try < statusWriteAttempts; try++ {
		p := base.DeepCopy()
		p.Status = *st
		actx, cancel := context.WithTimeout(ctx, w.m.cfg.APITimeout)
		res, err := client.UpdateStatus(actx, p, metav1.UpdateOptions{})
		cancel()
		if err == nil {
			w.lastWrite = w.m.clock.Now()
			w.mu.Lock()
			if newer(res.ResourceVersion, w.pod.ResourceVersion) {
				w.pod = res
			}
			w.mu.Unlock()
			return
		}
		switch {
		case apierrors.IsNotFound(err):
			return // the pod is gone; Remove follows
		case apierrors.IsConflict(err):
			actx, cancel := context.WithTimeout(ctx, w.m.cfg.APITimeout)
			fresh, gerr := client.Get(actx, base.Name, metav1.GetOptions{})
			cancel()
			if gerr != nil || fresh.UID != base.UID {
				next.after(retryInterval)
				return
			}
			// Keep what others own (conditions of other types) from the fresh copy.
			st = mergeForeign(fresh, st)
			w.mu.Lock()
			if newer(fresh.ResourceVersion, w.pod.ResourceVersion) {
				w.pod = fresh
			}
			w.mu.Unlock()
			base = fresh
			if apiequality.Semantic.DeepEqual(&base.Status, st) {
				return
			}
		default:
			if ctx.Err() == nil {
				w.m.log.Warn("cannot write pod status", "pod", base.Namespace+"/"+base.Name, "err", err)
			}
			next.after(retryInterval)
			return
		}
	}
	next.after(retryInterval)
}

// nodeConditions are the pod conditions the node agent owns.
var nodeConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true,
}

// mergeForeign returns st with the conditions the node does not own taken from fresh.
func mergeForeign(fresh *corev1.Pod, st *corev1.PodStatus) *corev1.PodStatus {
	out := st.DeepCopy()
	out.Conditions = nil
	for _, c := range fresh.Status.Conditions {
		if !nodeConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	for _, c := range st.Conditions {
		if nodeConditions[c.Type] {
			out.Conditions = append(out.Conditions, c)
		}
	}
	if isTerminal(fresh.Status.Phase) {
		out.Phase = fresh.Status.Phase
	}
	return out
}
