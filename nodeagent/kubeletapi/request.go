package kubeletapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// endpoint is one of the kubelet API's streaming endpoints.
type endpoint int

const (
	endpointLogs endpoint = iota + 1
	endpointExec
	endpointAttach
	endpointPortForward
)

// String returns the endpoint's first path segment.
func (e endpoint) String() string {
	switch e {
	case endpointLogs:
		return "containerLogs"
	case endpointExec:
		return "exec"
	case endpointAttach:
		return "attach"
	case endpointPortForward:
		return "portForward"
	}
	return "unknown"
}

// target is what a request's path names.
type target struct {
	endpoint  endpoint
	namespace string
	pod       string
	// container is empty for endpointPortForward.
	container string
}

// routes maps a path's first segment to its endpoint, the number of name segments that follow
// and the allowed methods.
var routes = map[string]struct {
	endpoint endpoint
	names    int
	methods  []string
}{
	"containerLogs": {endpointLogs, 3, []string{http.MethodGet}},
	"exec":          {endpointExec, 3, []string{http.MethodGet, http.MethodPost}},
	"attach":        {endpointAttach, 3, []string{http.MethodGet, http.MethodPost}},
	"portForward":   {endpointPortForward, 2, []string{http.MethodGet, http.MethodPost}},
}

// parsePath resolves a request's method and path:
// /containerLogs/{namespace}/{pod}/{container}, /exec/…, /attach/… and /portForward/{namespace}/{pod}.
func parsePath(method, path string) (target, error) {
	segments := strings.Split(strings.TrimPrefix(path, "/"), "/")
	route, ok := routes[segments[0]]
	if !ok || len(segments) != route.names+1 {
		return target{}, &requestError{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
			msg: fmt.Sprintf("the server could not find the requested resource %q", path)}
	}
	for _, s := range segments[1:] {
		if s == "" {
			return target{}, &requestError{code: http.StatusNotFound, reason: metav1.StatusReasonNotFound,
				msg: fmt.Sprintf("the server could not find the requested resource %q: empty name", path)}
		}
	}
	allowed := false
	for _, m := range route.methods {
		allowed = allowed || m == method
	}
	if !allowed {
		return target{}, &requestError{code: http.StatusMethodNotAllowed, reason: metav1.StatusReasonMethodNotAllowed,
			msg:   fmt.Sprintf("method %s is not allowed on /%s; use %s", method, segments[0], strings.Join(route.methods, " or ")),
			allow: strings.Join(route.methods, ", ")}
	}
	t := target{endpoint: route.endpoint, namespace: segments[1], pod: segments[2]}
	if route.names == 3 {
		t.container = segments[3]
	}
	return t, nil
}

// parseLogOptions maps a /containerLogs query to the runtime's LogOptions and whether the
// previous attempt is asked for. now anchors sinceSeconds. The checks are PodLogOptions'.
func parseLogOptions(q url.Values, now time.Time) (opts runtime.LogOptions, previous bool, err error) {
	if opts.Follow, err = boolParam(q, "follow"); err != nil {
		return runtime.LogOptions{}, false, err
	}
	if previous, err = boolParam(q, "previous"); err != nil {
		return runtime.LogOptions{}, false, err
	}
	if opts.Timestamps, err = boolParam(q, "timestamps"); err != nil {
		return runtime.LogOptions{}, false, err
	}
	if q.Get("sinceSeconds") != "" && q.Get("sinceTime") != "" {
		return runtime.LogOptions{}, false, badRequest("at most one of sinceTime or sinceSeconds may be specified")
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := intParam("sinceSeconds", v, 1)
		if err != nil {
			return runtime.LogOptions{}, false, err
		}
		opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return runtime.LogOptions{}, false, badRequest(fmt.Sprintf("sinceTime: invalid value %q: must be an RFC 3339 time", v))
		}
		opts.Since = t
	}
	if v := q.Get("tailLines"); v != "" {
		n, err := intParam("tailLines", v, 0)
		if err != nil {
			return runtime.LogOptions{}, false, err
		}
		opts.TailLines = &n
	}
	if v := q.Get("limitBytes"); v != "" {
		if opts.LimitBytes, err = intParam("limitBytes", v, 1); err != nil {
			return runtime.LogOptions{}, false, err
		}
	}
	return opts, previous, nil
}

// streamOptions are the streams and command of an exec or attach request.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
	// command is the command line of an exec.
	command []string
}

// parseStreamOptions reads an /exec or /attach query: the kubelet names input, output, error
// and tty, and for exec the repeated command. As in kubelet, a terminal has no separate stderr.
func parseStreamOptions(q url.Values, exec bool) (streamOptions, error) {
	var opts streamOptions
	var err error
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"input", &opts.stdin}, {"output", &opts.stdout}, {"error", &opts.stderr}, {"tty", &opts.tty}} {
		if *p.dst, err = boolParam(q, p.name); err != nil {
			return streamOptions{}, err
		}
	}
	if opts.tty {
		opts.stderr = false
	}
	if !opts.stdin && !opts.stdout && !opts.stderr {
		return streamOptions{}, badRequest("you must specify at least one of input, output and error")
	}
	if exec {
		opts.command = q["command"]
		if len(opts.command) == 0 || opts.command[0] == "" {
			return streamOptions{}, badRequest("you must specify a command")
		}
	}
	return opts, nil
}

// boolParam parses an optional boolean query parameter: "1", "true", "0", "false" and the
// other spellings strconv.ParseBool accepts.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(fmt.Sprintf("%s: invalid value %q: must be a boolean", name, v))
	}
	return b, nil
}

// intParam parses an integer query parameter that must be at least lowest.
func intParam(name, v string, lowest int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest(fmt.Sprintf("%s: invalid value %q: must be an integer", name, v))
	}
	if n < lowest {
		relation := fmt.Sprintf("greater than or equal to %d", lowest)
		if lowest == 1 {
			relation = "greater than 0"
		}
		return 0, badRequest(fmt.Sprintf("%s: invalid value %d: must be %s", name, n, relation))
	}
	return n, nil
}
