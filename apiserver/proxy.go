package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
)

// KubeletClientName is the common name of the client certificate with which API servers reach
// the node agents' kubelet API; the agents accept no other client.
const KubeletClientName = "capstan-apiserver"

// KubeletConfig says how the API server reaches the node agents' kubelet API for pods/log,
// exec, attach and portforward.
type KubeletConfig struct {
	// TLS is the client configuration: the cluster CA as roots and a client certificate the
	// agents accept.
	TLS *tls.Config
}

// kubeletPaths maps pod subresources to the kubelet API's paths.
var kubeletPaths = map[string]string{"log": "containerLogs", "exec": "exec", "attach": "attach", "portforward": "portForward"}

// proxyToNode serves pods/log, exec, attach and portforward by proxying to the kubelet API of
// the pod's node: plain requests are forwarded, upgrades (WebSocket, SPDY) spliced.
func (s *Server) proxyToNode(q *request, sub string) error {
	if s.cfg.Kubelet == nil || s.cfg.Kubelet.TLS == nil {
		return statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			fmt.Sprintf("pods/%s needs the node agents' kubelet API, which this server is not configured to reach", sub))
	}
	ctx := q.r.Context()
	obj, err := q.store.Get(ctx, q.info.namespace, q.info.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	if (sub == "exec" || sub == "attach") && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
		return apierrors.NewBadRequest(fmt.Sprintf("cannot %s into a container in a completed pod; current phase is %s", sub, pod.Status.Phase))
	}
	if sub == "portforward" && pod.Status.Phase != corev1.PodRunning {
		return apierrors.NewBadRequest(fmt.Sprintf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase))
	}
	host, err := s.kubeletAddress(ctx, pod.Spec.NodeName)
	if err != nil {
		return err
	}
	path := "/" + kubeletPaths[sub] + "/" + pod.Namespace + "/" + pod.Name
	query := url.Values{}
	if sub != "portforward" {
		container, err := containerFor(pod, q.query.Get("container"))
		if err != nil {
			return err
		}
		path += "/" + container
		query = kubeletQuery(sub, q.query)
	}
	location := &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: query.Encode()}
	transport := &http.Transport{TLSClientConfig: s.cfg.Kubelet.TLS.Clone(), DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	handler := utilproxy.NewUpgradeAwareHandler(location, transport, false, false, &proxyResponder{})
	handler.UpgradeTransport = utilproxy.NewUpgradeRequestRoundTripper(transport, utilproxy.MirrorRequest)
	handler.UseLocationHost = true
	handler.FlushInterval = 100 * time.Millisecond
	req := q.r.Clone(ctx)
	req.URL.RawQuery = location.RawQuery // the handler sends the request's query, not the location's
	req.Header.Del("Authorization")      // the agent authenticates the API server by its certificate
	handler.ServeHTTP(q.w, req)
	transport.CloseIdleConnections()
	return nil
}

// kubeletAddress returns host:port of a node's kubelet API.
func (s *Server) kubeletAddress(ctx context.Context, nodeName string) (string, error) {
	nodes, _ := s.reg.Store(schema.GroupResource{Resource: "nodes"})
	obj, err := nodes.Get(ctx, "", nodeName, metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		return "", err
	}
	node := obj.(*corev1.Node)
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("node %s reports no kubelet port", nodeName))
	}
	for _, want := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == want && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(int(port))), nil
			}
		}
	}
	return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("node %s reports no address", nodeName))
}

// containerFor picks the container a request names, or the pod's only (or default) one.
func containerFor(pod *corev1.Pod, name string) (string, error) {
	all := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
	if name != "" {
		for _, c := range all {
			if c.Name == name {
				return name, nil
			}
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	if d := pod.Annotations["kubectl.kubernetes.io/default-container"]; d != "" {
		return containerFor(pod, d)
	}
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
}

// kubeletQuery translates the API's query parameters into the kubelet API's.
func kubeletQuery(sub string, in url.Values) url.Values {
	out := url.Values{}
	switch sub {
	case "log":
		for _, k := range []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes"} {
			if v := in.Get(k); v != "" {
				out.Set(k, v)
			}
		}
	default: // exec, attach
		out["command"] = in["command"]
		for api, kubelet := range map[string]string{"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"} {
			if isTrue(in.Get(api)) {
				out.Set(kubelet, "1")
			}
		}
	}
	return out
}

// proxyResponder writes proxy failures as a Status.
type proxyResponder struct{}

func (proxyResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, statusError(http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, "error talking to the node agent: "+err.Error()))
}
