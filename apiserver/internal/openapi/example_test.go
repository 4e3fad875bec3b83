package openapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/capstan-io/capstan/apiserver/internal/openapi"
)

func ExampleNew() {
	svc, err := openapi.New([]openapi.Resource{{
		Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ListKind: "DeploymentList",
		Namespaced: true,
		Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
		Subresources: []openapi.Subresource{
			{Name: "status", Verbs: []string{"get", "update", "patch"}},
			{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "update", "patch"}},
		},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	if err := svc.Install(mux); err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/openapi/v3/apis/apps/v1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	// Output: 200 OK application/json
}

func ExampleModels() {
	models, err := openapi.Models()
	if err != nil {
		fmt.Println(err)
		return
	}
	deployment := models["io.k8s.api.apps.v1.Deployment"]
	fmt.Println(deployment.Extensions["x-kubernetes-group-version-kind"])
	// Output: [map[group:apps kind:Deployment version:v1]]
}
