package apiserver

import (
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// proxyToNode serves pods/log, exec, attach and portforward by proxying to the node agent's
// kubelet API. The node agent does not exist yet, so these answer 503 with the reason.
func (s *Server) proxyToNode(q *request, sub string) error {
	return statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
		fmt.Sprintf("pods/%s needs the node agent's kubelet API, which this version of Capstan does not run yet", sub))
}
