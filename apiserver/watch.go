package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/capstan-io/capstan/apiserver/internal/tables"
)

// watch streams WatchEvents, until the timeout, the client leaving, the store failing the
// watch or the server draining: length-prefixed protobuf when the client accepts it first
// (client-go's typed clients do), newline-delimited JSON otherwise (Tables when asked).
func (q *request) watch() error {
	var opts metav1.ListOptions
	if err := decodeParameters(q.query, &opts); err != nil {
		return err
	}
	out, err := negotiate(q.r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	contentType, encode := watchFormat(out)
	timeout := q.s.cfg.MaxWatchTimeout
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = min(timeout, time.Duration(*opts.TimeoutSeconds)*time.Second)
	} else {
		// Spread reconnections, as Kubernetes does.
		timeout = time.Duration(float64(timeout) * (0.5 + rand.Float64()/2))
	}
	ctx, cancel := context.WithTimeout(q.r.Context(), timeout)
	defer cancel()
	select {
	case <-q.s.draining:
		return statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "the server is shutting down; watch another master")
	default:
	}
	w, err := q.store.Watch(ctx, q.info.namespace, opts)
	if err != nil {
		return err
	}
	defer w.Stop()

	flusher, _ := q.w.(http.Flusher)
	q.w.Header().Set("Content-Type", contentType)
	q.w.Header().Set("Transfer-Encoding", "chunked")
	q.w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	headersSent := false
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-q.s.draining:
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			obj := ev.Object
			if out.as == "Table" && (ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted) {
				table, err := tables.For(q.res.GroupResource()).Convert(obj, q.s.cfg.Now(), tables.Options{
					IncludeObject: metav1.IncludeObjectPolicy(q.query.Get("includeObject")), NoHeaders: headersSent,
				})
				if err != nil {
					return nil // the stream has started: end it, the client re-watches
				}
				headersSent = true
				obj = table
			} else if out.as == "PartialObjectMetadata" || out.as == "PartialObjectMetadataList" {
				if ev.Type != watch.Error {
					obj = partialMetadata(obj)
				}
			}
			buf.Reset()
			setKindIfEmpty(obj, q)
			if err := encode(&buf, ev.Type, obj); err != nil {
				return nil
			}
			if _, err := q.w.Write(buf.Bytes()); err != nil {
				return nil
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// eventEncoder appends one event, framed, to a watch stream's buffer.
type eventEncoder func(buf *bytes.Buffer, typ watch.EventType, obj runtime.Object) error

// watchFormat returns the Content-Type of a watch stream for the negotiated output and the
// encoder of its events. Protobuf streams are framed as the reference apiserver frames them
// (client-go reads the Content-Type's stream=watch): each event is a metav1.WatchEvent
// encoded without envelope, preceded by its length as four big-endian bytes, its object
// encoded as a protobuf response is. YAML, which has no stream format, is answered as JSON.
func watchFormat(out output) (string, eventEncoder) {
	if out.media == mediaProtobuf {
		return mediaProtobuf + ";stream=watch", encodeProtobufEvent
	}
	return mediaJSON, encodeJSONEvent
}

// encodeJSONEvent writes one WatchEvent as a line of JSON. The envelope is written by hand:
// the event types need no escaping, and json.Marshal would scan the encoded object again.
func encodeJSONEvent(buf *bytes.Buffer, typ watch.EventType, obj runtime.Object) error {
	buf.WriteString(`{"type":"`)
	buf.WriteString(string(typ))
	buf.WriteString(`","object":`)
	start := buf.Len()
	if err := jsonSerializer.Encode(obj, buf); err != nil {
		return err
	}
	buf.Truncate(start + len(bytes.TrimRight(buf.Bytes()[start:], "\n")))
	buf.WriteString("}\n")
	return nil
}

// encodeProtobufEvent writes one length-prefixed protobuf WatchEvent.
func encodeProtobufEvent(buf *bytes.Buffer, typ watch.EventType, obj runtime.Object) error {
	var raw bytes.Buffer
	if err := protobufSerializer.Encode(obj, &raw); err != nil {
		return err
	}
	ev := metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: raw.Bytes()}}
	data, err := ev.Marshal()
	if err != nil {
		return err
	}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(data)))
	buf.Write(size[:])
	buf.Write(data)
	return nil
}

// setKindIfEmpty sets the kind of objects the handler built itself (tables, statuses). Objects
// from the store are shared between watchers and already carry their kind.
func setKindIfEmpty(obj runtime.Object, q *request) {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		setKind(obj, q.gv)
	}
}
