package kubeletapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"

	"github.com/capstan-io/capstan/nodeagent/kubeletapi"
	"github.com/capstan-io/capstan/nodeagent/runtime"
)

// agentPods stands for the node agent's pod workers.
type agentPods struct{}

func (agentPods) PodUID(namespace, name string) (string, error) {
	return "", kubeletapi.ErrPodNotFound
}

func (agentPods) ContainerID(namespace, pod, container string, previous bool) (string, error) {
	return "", kubeletapi.ErrPodNotFound
}

// This example serves the kubelet API on the port the node reports in
// status.daemonEndpoints.kubeletEndpoint, accepting clients whose certificate the cluster CA
// signed, until the process is interrupted.
func ExampleServer_Serve() {
	var rt runtime.Runtime // the agent's containerd runtime
	cert, err := tls.LoadX509KeyPair("/etc/capstan/kubelet.crt", "/etc/capstan/kubelet.key")
	if err != nil {
		log.Fatal(err)
	}
	caPEM, err := os.ReadFile("/etc/capstan/ca.crt")
	if err != nil {
		log.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AppendCertsFromPEM(caPEM)

	cfg := kubeletapi.DefaultConfig()
	cfg.Runtime = rt
	cfg.Pods = agentPods{}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clientCAs, ClientAuth: tls.RequireAndVerifyClientCert}
	cfg.Logger = slog.Default()
	srv, err := kubeletapi.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", ":10250")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := srv.Serve(ctx, l); err != nil {
		log.Fatal(err)
	}
}
