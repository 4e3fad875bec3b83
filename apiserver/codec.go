package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// Media types the server speaks.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// output is a negotiated response format.
type output struct {
	media string // mediaJSON, mediaYAML or mediaProtobuf
	// as is "", "Table", "PartialObjectMetadata" or "PartialObjectMetadataList".
	as string
}

var (
	jsonSerializer     = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{})
	yamlSerializer     = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Yaml: true})
	strictJSON         = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Strict: true})
	strictYAML         = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Yaml: true, Strict: true})
	protobufSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
)

// negotiate picks the first format of the Accept header the server can produce.
func negotiate(accept string) (output, error) {
	if strings.TrimSpace(accept) == "" {
		return output{media: mediaJSON}, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var out output
		switch mt {
		case mediaJSON, "*/*", "application/*", "":
			out.media = mediaJSON
		case mediaYAML:
			out.media = mediaYAML
		case mediaProtobuf:
			out.media = mediaProtobuf
		default:
			continue
		}
		if as := params["as"]; as != "" {
			if params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			switch as {
			case "Table":
				if out.media == mediaProtobuf {
					continue // Tables are served as JSON or YAML only
				}
			case "PartialObjectMetadata", "PartialObjectMetadataList":
			default:
				continue
			}
			out.as = as
		}
		return out, nil
	}
	return output{}, errNotAcceptable(accept)
}

// setKind sets obj's apiVersion and kind from the scheme, preferring group version gv.
func setKind(obj runtime.Object, gv schema.GroupVersion) {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return
	}
	pick := gvks[0]
	for _, k := range gvks {
		if k.GroupVersion() == gv {
			pick = k
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(pick)
}

func serializerFor(media string) runtime.Encoder {
	switch media {
	case mediaYAML:
		return yamlSerializer
	case mediaProtobuf:
		return protobufSerializer
	}
	return jsonSerializer
}

// writeObject encodes obj in the negotiated format.
func writeObject(w http.ResponseWriter, code int, out output, obj runtime.Object, gv schema.GroupVersion) {
	setKind(obj, gv)
	var buf bytes.Buffer
	enc := serializerFor(out.media)
	if _, isStatus := obj.(*metav1.Status); isStatus && out.media == mediaProtobuf {
		enc, out.media = jsonSerializer, mediaJSON
	}
	if err := enc.Encode(obj, &buf); err != nil {
		// Encoding our own objects does not fail; if it does, say so as JSON.
		st := newStatus(http.StatusInternalServerError, metav1.StatusReasonInternalError, fmt.Sprintf("encode response: %v", err))
		buf.Reset()
		_ = jsonSerializer.Encode(st, &buf)
		code, out.media = http.StatusInternalServerError, mediaJSON
	}
	w.Header().Set("Content-Type", out.media)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// WriteError writes err as the metav1.Status a Kubernetes client expects, mapping it with the
// same rules as the API's own errors. Handlers added with Server.Handle use it.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

// writeError writes err as a metav1.Status.
func writeError(w http.ResponseWriter, err error) {
	st := statusFor(err)
	writeObject(w, int(st.Code), output{media: mediaJSON}, st, schema.GroupVersion{Version: "v1"})
}

// decodedBody is a decoded request body and the strict-decoding findings on it.
type decodedBody struct {
	obj      runtime.Object
	warnings []string
}

// decodeBody decodes a create or update body as the kind want, applying fieldValidation.
func decodeBody(r *http.Request, body []byte, want schema.GroupVersionKind, fieldValidation string) (decodedBody, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return decodedBody{}, errUnsupportedMediaType(r.Header.Get("Content-Type"))
	}
	var dec runtime.Decoder
	switch mt {
	case mediaJSON, "":
		dec = strictJSON
	case mediaYAML:
		dec = strictYAML
	case mediaProtobuf:
		dec = protobufSerializer
	default:
		return decodedBody{}, errUnsupportedMediaType(r.Header.Get("Content-Type"))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return decodedBody{}, apierrors.NewBadRequest("the request body is empty")
	}
	into, err := scheme.Scheme.New(want)
	if err != nil {
		return decodedBody{}, err
	}
	obj, gvk, err := dec.Decode(body, &want, into)
	var warnings []string
	if err != nil {
		strictErr, ok := runtime.AsStrictDecodingError(err)
		if !ok {
			return decodedBody{}, apierrors.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded as %s: %v", want.Kind, err))
		}
		var findings []string
		for _, e := range strictErr.Errors() {
			findings = append(findings, e.Error())
		}
		switch fieldValidation {
		case metav1.FieldValidationStrict:
			return decodedBody{}, apierrors.NewBadRequest(fmt.Sprintf("strict decoding error: %s", strings.Join(findings, ", ")))
		case metav1.FieldValidationIgnore:
		default:
			warnings = findings
		}
	}
	if gvk != nil && (gvk.Kind != want.Kind || gvk.GroupVersion() != want.GroupVersion()) {
		return decodedBody{}, apierrors.NewBadRequest(fmt.Sprintf("the body is a %s, but this endpoint takes %s", gvk, want))
	}
	return decodedBody{obj: obj, warnings: warnings}, nil
}

// readBody reads a request body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	if int64(len(data)) > limit {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
	}
	return data, nil
}
