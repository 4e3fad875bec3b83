package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/capstan-io/capstan/apiserver/internal/tables"
)

// watch streams events as newline-delimited JSON WatchEvents (Tables when asked), until the
// timeout, the client leaving, the store failing the watch or the server draining.
func (q *request) watch() error {
	var opts metav1.ListOptions
	if err := decodeParameters(q.query, &opts); err != nil {
		return err
	}
	out, err := negotiate(q.r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	out.media = mediaJSON // watches are streamed as JSON lines; clients read the Content-Type
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
	q.w.Header().Set("Content-Type", out.media)
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
			if err := encodeEvent(&buf, string(ev.Type), obj, q); err != nil {
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

// encodeEvent writes one WatchEvent line.
func encodeEvent(buf *bytes.Buffer, typ string, obj runtime.Object, q *request) error {
	setKindIfEmpty(obj, q)
	var raw bytes.Buffer
	if err := jsonSerializer.Encode(obj, &raw); err != nil {
		return err
	}
	ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: bytes.TrimSpace(raw.Bytes())}}
	data, err := json.Marshal(&ev)
	if err != nil {
		return err
	}
	buf.Write(data)
	buf.WriteByte('\n')
	return nil
}

// setKindIfEmpty sets the kind of objects the handler built itself (tables, statuses). Objects
// from the store are shared between watchers and already carry their kind.
func setKindIfEmpty(obj runtime.Object, q *request) {
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		setKind(obj, q.gv)
	}
}
