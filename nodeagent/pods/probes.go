package pods

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// probeKind is liveness, readiness or startup.
type probeKind string

const (
	liveness  probeKind = "Liveness"
	readiness probeKind = "Readiness"
	startup   probeKind = "Startup"
)

// maxProbeOutput bounds the probe output kept for events.
const maxProbeOutput = 10 << 10

func probeKey(id string, kind probeKind) string { return id + "/" + string(kind) }

// probesOf returns the container's probes by kind.
func probesOf(c *corev1.Container) map[probeKind]*corev1.Probe {
	out := map[probeKind]*corev1.Probe{}
	if c.LivenessProbe != nil {
		out[liveness] = c.LivenessProbe
	}
	if c.ReadinessProbe != nil {
		out[readiness] = c.ReadinessProbe
	}
	if c.StartupProbe != nil {
		out[startup] = c.StartupProbe
	}
	return out
}

// probeState returns whether the running container id has started (its startup probe passed,
// or it has none) and is ready (started and its readiness probe passes, or it has none).
func (w *worker) probeState(c *corev1.Container, id string, isInit bool) (started, ready bool) {
	if isInit {
		return true, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	started = c.StartupProbe == nil || w.results[probeKey(id, startup)]
	ready = started && (c.ReadinessProbe == nil || w.results[probeKey(id, readiness)])
	return started, ready
}

// failedProbe returns the kind of the probe ("liveness" or "startup") whose failure requires
// restarting the container id, or "".
func (w *worker) failedProbe(id string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range []probeKind{liveness, startup} {
		if ok, set := w.results[probeKey(id, k)]; set && !ok && w.probeFailed[probeKey(id, k)] {
			return strings.ToLower(string(k))
		}
	}
	return ""
}

// syncProbes runs one prober goroutine per probe of every running app container and stops
// those of containers that no longer run.
func (w *worker) syncProbes(ctx context.Context, pod *corev1.Pod, byName map[string][]runtime.ContainerStatus) {
	want := map[string]bool{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		l := latest(byName[c.Name])
		if l == nil || l.State != runtime.ContainerRunning {
			continue
		}
		for kind, p := range probesOf(c) {
			key := probeKey(l.ID, kind)
			want[key] = true
			if _, ok := w.probes[key]; ok {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			w.probes[key] = cancel
			pr := &prober{w: w, pod: pod, c: c, probe: p, kind: kind, id: l.ID, startedAt: l.StartedAt, podIP: first(w.podIPs())}
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				pr.run(pctx)
			}()
		}
	}
	for key, cancel := range w.probes {
		if !want[key] {
			cancel()
			delete(w.probes, key)
			w.mu.Lock()
			delete(w.results, key)
			delete(w.probeFailed, key)
			w.mu.Unlock()
		}
	}
}

// stopProbes stops every prober of the pod.
func (w *worker) stopProbes() {
	for key, cancel := range w.probes {
		cancel()
		delete(w.probes, key)
	}
	w.mu.Lock()
	w.results = map[string]bool{}
	w.probeFailed = map[string]bool{}
	w.mu.Unlock()
}

// prober runs one probe of one container until its context ends (or, for a startup probe,
// until it succeeded).
type prober struct {
	w         *worker
	pod       *corev1.Pod
	c         *corev1.Container
	probe     *corev1.Probe
	kind      probeKind
	id        string
	startedAt time.Time
	podIP     string
}

func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

func (p *prober) run(ctx context.Context) {
	w := p.w
	key := probeKey(p.id, p.kind)
	period := seconds(p.probe.PeriodSeconds, 10)
	timeout := seconds(p.probe.TimeoutSeconds, 1)
	successThreshold := max(p.probe.SuccessThreshold, 1)
	failureThreshold := p.probe.FailureThreshold
	if failureThreshold <= 0 {
		failureThreshold = 3
	}
	// Initial results, as the kubelet's: not ready, alive, not started.
	w.mu.Lock()
	w.results[key] = p.kind == liveness
	w.mu.Unlock()

	ticker := w.m.clock.NewTicker(period)
	defer ticker.Stop()
	var last *bool
	var run int32
	for {
		if p.enabled() && w.m.clock.Since(p.startedAt) >= time.Duration(p.probe.InitialDelaySeconds)*time.Second {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			ok, out := w.m.runProbe(pctx, p.id, p.c, &p.probe.ProbeHandler, p.podIP)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if !ok {
				w.m.containerEvent(p.pod, p.c, corev1.EventTypeWarning, reasonUnhealthy, "%s probe failed: %s", p.kind, out)
			}
			if last != nil && *last == ok {
				run++
			} else {
				run = 1
				last = &ok
			}
			if (ok && run >= successThreshold) || (!ok && run >= failureThreshold) {
				w.mu.Lock()
				prev, set := w.results[key]
				w.results[key] = ok
				if !ok {
					w.probeFailed[key] = true
				}
				w.mu.Unlock()
				if !set || prev != ok {
					w.poke()
				}
				if ok && p.kind == startup {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// enabled reports whether the probe runs now: liveness and readiness wait for the startup probe.
func (p *prober) enabled() bool {
	if p.kind == startup || p.c.StartupProbe == nil {
		return true
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	return p.w.results[probeKey(p.id, startup)]
}

// runProbe runs a probe handler once and returns its result and output.
func (m *Manager) runProbe(ctx context.Context, id string, c *corev1.Container, h *corev1.ProbeHandler, podIP string) (bool, string) {
	switch {
	case h.Exec != nil:
		return m.execProbe(ctx, id, h.Exec.Command)
	case h.HTTPGet != nil:
		return httpProbe(ctx, c, h.HTTPGet, podIP)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := resolvePort(h.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	case h.GRPC != nil:
		return false, "gRPC probes are not supported by this node"
	}
	return false, "probe has no handler"
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := maxProbeOutput - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// execProbe runs cmd in the container; exit code 0 is success.
func (m *Manager) execProbe(ctx context.Context, id string, cmd []string) (bool, string) {
	var out limitedBuffer
	code, err := m.rt.Exec(ctx, id, cmd, runtime.Streams{Stdout: &out, Stderr: &out})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))
		}
		return false, err.Error()
	}
	return code == 0, out.String()
}

// resolvePort turns a probe's port (a number or a container port name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %s in container %s", p.StrVal, c.Name)
}

// httpProbe sends a GET; 200 to 399 is success.
func httpProbe(ctx context.Context, c *corev1.Container, h *corev1.HTTPGetAction, podIP string) (bool, string) {
	host := h.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(h.Port, c)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if ref, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = ref.Path, ref.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.32")
	req.Header.Set("Accept", "*/*")
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes do not verify, as the kubelet's
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeOutput))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// runHandler runs a lifecycle hook (exec or httpGet) and returns its output.
func (m *Manager) runHandler(ctx context.Context, id string, c *corev1.Container, h *corev1.LifecycleHandler, podIP string) (string, error) {
	switch {
	case h.Exec != nil:
		var out limitedBuffer
		code, err := m.rt.Exec(ctx, id, h.Exec.Command, runtime.Streams{Stdout: &out, Stderr: &out})
		if err != nil {
			return out.String(), err
		}
		if code != 0 {
			return out.String(), fmt.Errorf("command '%s' exited with %d", strings.Join(h.Exec.Command, " "), code)
		}
		return out.String(), nil
	case h.HTTPGet != nil:
		ok, out := httpProbe(ctx, c, h.HTTPGet, podIP)
		if !ok {
			return "", fmt.Errorf("http lifecycle hook failed: %s", out)
		}
		return "", nil
	case h.Sleep != nil:
		t := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return "", nil
	}
	return "", errors.New("lifecycle hook has no handler")
}
