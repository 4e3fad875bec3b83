// Package kubeletapi is the node agent's kubelet API: the HTTPS server to which the API server
// proxies pods/log, pods/exec, pods/attach and pods/portforward, splicing kubectl's upgraded
// connections through unchanged.
//
// Paths, with the query the API server has already translated to kubelet's names:
//
//	GET       /containerLogs/{namespace}/{pod}/{container}?follow&previous&timestamps&sinceSeconds&sinceTime&tailLines&limitBytes
//	GET|POST  /exec/{namespace}/{pod}/{container}?command=…&command=…&input&output&error&tty
//	GET|POST  /attach/{namespace}/{pod}/{container}?input&output&error&tty
//	GET|POST  /portForward/{namespace}/{pod}   (the ports travel in SPDY stream headers)
//	GET       /healthz                         ("ok", without authorization)
//
// Errors are metav1.Status JSON: 400 for a bad query, 403 for an unauthorized client, 404 for
// an unknown path, pod or container, 405 for a wrong method, 429 beyond Config.MaxStreams.
//
// # Protocols
//
// Exec and attach speak the channel protocol v5.channel.k8s.io over WebSocket, which kubectl
// 1.30 and later try first: binary messages whose first byte names the channel (0 stdin,
// 1 stdout, 2 stderr, 3 status, 4 terminal resize as JSON {"Width","Height"}, 255 a half-close
// of the channel in the second byte). The session ends with a metav1.Status on channel 3:
// Success, or Failure with reason NonZeroExitCode and an ExitCode cause carrying the command's
// exit code, as kubelet sends. The WebSocket side uses apimachinery's wsstream. When the
// WebSocket upgrade is refused, kubectl falls back to SPDY/3.1 with v4 to v1 of the channel
// protocol, served by kubelet's streaming library (k8s.io/kubelet/pkg/cri/streaming).
//
// Port-forward is always SPDY/3.1 with portforward.k8s.io, one data and one error stream per
// forwarded connection: either tunnelled in WebSocket binary messages (subprotocol
// SPDY/3.1+portforward.k8s.io, kubectl's first choice) or directly after a SPDY upgrade. Both
// run kubelet's port-forward library; for the tunnel, the server answers the WebSocket
// handshake itself and hands the library a ResponseWriter whose Hijack returns the tunnel.
//
// # Sessions, timeouts and limits
//
// An upgraded connection is a session. Its context, handed to the Runtime, ends when the
// client's connection fails or closes, when no data crossed it for Config.StreamIdleTimeout
// (4 hours by default, as kubelet), or when Serve stops; the connection is then closed, so the
// runtime's reads and writes fail too. SPDY clients must open a session's streams within
// Config.StreamCreationTimeout (30 seconds). At most Config.MaxStreams requests (logs included)
// are served at once. Request headers must arrive within 10 seconds and fit in 1 MiB; idle
// keep-alive connections are closed after 90 seconds. Responses have no write timeout.
//
// # Goroutines
//
// Serve owns the HTTP server's goroutine and waits for every request handler, including the
// hijacked ones net/http no longer tracks. A handler owns its session's goroutines (resize
// decoders and forwarders, port forwards) and joins them before it returns. Two libraries
// start goroutines that the handler cannot join but that end on their own: wsstream's
// connection reader stops as soon as the connection is closed, and kubelet's port-forward
// library keeps a timer goroutine per incomplete stream pair for at most
// Config.StreamCreationTimeout. Likewise kubelet's exec and attach library waits for a SPDY
// client's streams without watching the connection, so a session whose client never opens them
// holds its handler, and Serve's return, for up to Config.StreamCreationTimeout.
//
// The kubelet and apimachinery libraries report their own errors through klog.
package kubeletapi
