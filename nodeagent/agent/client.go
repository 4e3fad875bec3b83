package agent

import (
	"context"
	"net"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// dialTimeout bounds connecting to one master, so that a partitioned master is given up on
// quickly.
const dialTimeout = 3 * time.Second

// restConfig returns a client configuration with the node's credential whose requests go to
// the current master of set (see failoverTransport).
func restConfig(id *identity, set *masterSet, userAgent string) *rest.Config {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &rest.Config{
		Host:      "https://" + set.pick(),
		UserAgent: userAgent,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: id.caPEM, CertData: id.clientCert, KeyData: id.clientKey,
		},
		QPS: 50, Burst: 100,
		Dial: dialer.DialContext,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return &failoverTransport{set: set, next: rt}
		},
	}
}

// newClient returns a clientset for restConfig.
func newClient(id *identity, set *masterSet, userAgent string) (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(restConfig(id, set, userAgent))
}

// sleepCtx waits for d or until ctx ends and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
