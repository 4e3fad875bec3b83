package tables

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets on pods of an
// unreachable node; such pods show as Unknown while they are being deleted.
const nodeLostReason = "NodeLost"

// podConvertor prints pods: READY, STATUS, RESTARTS and, wide, IP, node and readiness gates.
var podConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
		column("Status", "string", "The aggregate status of the containers in this pod."),
		column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn(),
		wideColumn("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]),
		wideColumn("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
		wideColumn("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
		wideColumn("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
	},
	row: rowsOf(podRow),
}

// Row conditions of finished pods; kubectl uses them to tell completed rows apart.
var (
	podSucceededConditions = []metav1.TableRowCondition{{
		Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
		Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully.",
	}}
	podFailedConditions = []metav1.TableRowCondition{{
		Type: metav1.RowCompleted, Status: metav1.ConditionTrue,
		Reason: string(corev1.PodFailed), Message: "The pod failed.",
	}}
)

// podRow renders the row of a pod; finished pods carry a Completed row condition.
func podRow(pod *corev1.Pod, now time.Time) metav1.TableRow {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, duration.HumanDuration(now.Sub(s.lastRestart)))
	}

	ip := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}

	row := metav1.TableRow{Cells: []any{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		since(pod.CreationTimestamp, now),
		orNone(ip),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		readinessGates(pod),
	}}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		row.Conditions = podSucceededConditions
	case corev1.PodFailed:
		row.Conditions = podFailedConditions
	}
	return row
}

// podSummary is what the READY, STATUS and RESTARTS columns show of a pod.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  time.Time
}

// restartTally sums the restarts of containers and remembers when the last one ended.
type restartTally struct {
	count int
	last  time.Time
}

func (t *restartTally) add(cs *corev1.ContainerStatus) {
	t.count += int(cs.RestartCount)
	if term := cs.LastTerminationState.Terminated; term != nil && term.FinishedAt.After(t.last) {
		t.last = term.FinishedAt.Time
	}
}

// summarizePod derives the READY, STATUS and RESTARTS cells the way kubectl users know them.
//
// STATUS starts as the phase (or status.reason) and is then refined: init containers that have not
// finished yield Init:N/M, Init:<reason>, Init:ExitCode:N or Init:Signal:N; once initialization
// is over, the waiting or terminated reason of an app container (CrashLoopBackOff, Error,
// OOMKilled, Completed, ...) wins. Sidecars (init containers with restartPolicy Always) count as
// containers for READY and RESTARTS. A pod being deleted shows Terminating, or Unknown if its
// node was lost.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	sidecars := make(map[string]bool)
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			sidecars[c.Name] = true
			s.total++
		}
	}

	// Init containers run one after the other: walk them until the first one still pending.
	var all, sidecarRestarts restartTally
	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		cs := &pod.Status.InitContainerStatuses[i]
		all.add(cs)
		if sidecars[cs.Name] {
			sidecarRestarts.add(cs)
		}
		if term := cs.State.Terminated; term != nil && term.ExitCode == 0 {
			continue
		}
		if sidecars[cs.Name] && cs.Started != nil && *cs.Started {
			if cs.Ready {
				s.ready++
			}
			continue
		}
		initializing = true
		s.reason = initReason(cs, i, len(pod.Spec.InitContainers))
		break
	}
	s.restarts, s.lastRestart = all.count, all.last

	if !initializing || podConditionTrue(pod, corev1.PodInitialized) {
		// Only sidecar restarts carry over from initialization.
		tally := sidecarRestarts
		running := false
		// Walk backwards so the first app container's reason wins.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := &pod.Status.ContainerStatuses[i]
			tally.add(cs)
			waiting, term := cs.State.Waiting, cs.State.Terminated
			switch {
			case waiting != nil && waiting.Reason != "":
				s.reason = waiting.Reason
			case term != nil && term.Reason != "":
				s.reason = term.Reason
			case term != nil && term.Signal != 0:
				s.reason = fmt.Sprintf("Signal:%d", term.Signal)
			case term != nil:
				s.reason = fmt.Sprintf("ExitCode:%d", term.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				s.ready++
			}
		}
		s.restarts, s.lastRestart = tally.count, tally.last

		// A container that completed while others still run does not make the pod Completed.
		if s.reason == "Completed" && running {
			s.reason = "NotReady"
			if podConditionTrue(pod, corev1.PodReady) {
				s.reason = "Running"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			s.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.reason = "Terminating"
		}
	}
	return s
}

// initReason is the STATUS of a pod whose init container cs (the index-th of total) has not
// finished.
func initReason(cs *corev1.ContainerStatus, index, total int) string {
	if term := cs.State.Terminated; term != nil {
		switch {
		case term.Reason != "":
			return "Init:" + term.Reason
		case term.Signal != 0:
			return fmt.Sprintf("Init:Signal:%d", term.Signal)
		default:
			return fmt.Sprintf("Init:ExitCode:%d", term.ExitCode)
		}
	}
	if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
		return "Init:" + w.Reason
	}
	return fmt.Sprintf("Init:%d/%d", index, total)
}

// isSidecar reports whether an init container keeps running beside the app containers.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podConditionTrue reports whether the first condition of type t is True.
func podConditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readinessGates renders how many of the pod's readiness gates are True, as "1/2".
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return none
	}
	met := 0
	for _, gate := range pod.Spec.ReadinessGates {
		if podConditionTrue(pod, gate.ConditionType) {
			met++
		}
	}
	return fmt.Sprintf("%d/%d", met, len(pod.Spec.ReadinessGates))
}
