package scheduler

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// assumedPod is a pod the scheduler placed before its informer shows the binding.
type assumedPod struct {
	// pod is the pod as placed: a copy with spec.nodeName set.
	pod *corev1.Pod
	// resourceVersion is the pod's version when placed, the precondition of its binding.
	resourceVersion string
	// expires is when the pod stops counting against its node; zero while the binding is
	// under way.
	expires time.Time
	// bound is set when the binding succeeded; an entry whose binding's outcome is unknown
	// counts against its node but does not stop the pod from being placed again.
	bound bool
}

// assumedPods remembers placed pods until the pod informer catches up with their bindings,
// so that their requests count against their nodes (no two pods placed on a node that
// fits one) and a bound pod still shown as pending is never placed again.
//
// An entry is added when a pod is placed, dropped when its binding fails, and dropped
// when the informer shows any newer version of the pod (a successful binding makes one)
// or its deletion. A binding whose outcome is unknown (a timeout) keeps its entry, so that
// the pod keeps counting, but lets the pod be placed again. Once bound, a pod counts against its node for the ttl only: after that
// the entry merely keeps the pod from being placed again. It is safe for concurrent use:
// the pass assumes and binds while informer handlers observe.
type assumedPods struct {
	ttl time.Duration

	mu   sync.Mutex // protects pods
	pods map[types.UID]*assumedPod
}

// newAssumedPods returns an empty set whose bound pods count for ttl.
func newAssumedPods(ttl time.Duration) *assumedPods {
	return &assumedPods{ttl: ttl, pods: make(map[types.UID]*assumedPod)}
}

// assume records placed, the copy of a pod at resourceVersion with spec.nodeName set.
func (a *assumedPods) assume(placed *corev1.Pod, resourceVersion string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pods[placed.UID] = &assumedPod{pod: placed, resourceVersion: resourceVersion}
}

// finish records at now the end of uid's binding: it succeeded when bound is set, its
// outcome is unknown otherwise. Either way the pod counts until now plus the ttl.
func (a *assumedPods) finish(uid types.UID, now time.Time, bound bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.pods[uid]; ok {
		p.expires = now.Add(a.ttl)
		p.bound = bound
	}
}

// forget drops uid: its binding failed, or the pod is gone.
func (a *assumedPods) forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.pods, uid)
}

// observe drops pod's entry when the informer shows a version other than the one placed.
func (a *assumedPods) observe(pod *corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.pods[pod.UID]; ok && p.resourceVersion != pod.ResourceVersion {
		delete(a.pods, pod.UID)
	}
}

// isBound reports whether pod, as the informer shows it, was bound by the scheduler: its
// binding succeeded from this very version, which the informer has not moved past.
func (a *assumedPods) isBound(pod *corev1.Pod) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pods[pod.UID]
	return ok && p.bound && p.resourceVersion == pod.ResourceVersion
}

// counting returns the placed pods that still count against their nodes at now, by UID.
func (a *assumedPods) counting(now time.Time) map[types.UID]*corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[types.UID]*corev1.Pod, len(a.pods))
	for uid, p := range a.pods {
		if p.expires.IsZero() || now.Before(p.expires) {
			out[uid] = p.pod
		}
	}
	return out
}

// len returns the number of entries.
func (a *assumedPods) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pods)
}
