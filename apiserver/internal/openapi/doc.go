// Package openapi builds and serves the OpenAPI documents of Capstan's API.
//
// kubectl needs them for apply (client- and server-side), edit, create -f, diff
// and explain: it looks up each kind's PATCH operation to learn that the server
// validates fields itself (the fieldValidation query parameter and the
// x-kubernetes-group-version-kind extension), and it reads the schemas for
// strategic-merge metadata and for explain.
//
// The schemas come from our own build: openapi-gen (from k8s.io/kube-openapi)
// runs over the k8s.io/api and k8s.io/apimachinery packages listed in
// generate.go and writes zz_generated.openapi.go. The paths are built from a
// list of [Resource] values, shaped like the reference apiserver's (the same
// URLs, operation IDs, query parameters and extensions), through kube-openapi's
// framework-neutral route interfaces; no go-restful web services are involved.
//
// [New] builds one OpenAPI v2 document with every path and one OpenAPI v3
// document per group version. [Service.Install] serves them with kube-openapi's
// handlers:
//
//   - /openapi/v2 as JSON or as protobuf, with the content type
//     application/com.github.proto-openapi.spec.v2.v1.0+protobuf that
//     client-go's parser accepts;
//   - /openapi/v3, an index that maps "api/v1" or "apis/<group>/<version>" to
//     a URL with a ?hash= of the document;
//   - /openapi/v3/api/v1 and /openapi/v3/apis/<group>/<version>, with an ETag,
//     and Cache-Control "public, immutable" when the hash is given.
//
// The documents are immutable once built, and a Service is safe for concurrent
// use. [Models] exposes the same schemas in the form that
// k8s.io/apimachinery/pkg/util/managedfields.NewTypeConverter takes, for
// server-side apply.
package openapi
