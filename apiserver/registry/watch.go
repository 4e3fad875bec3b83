package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/capstan-io/capstan/raftstore"
)

// InitialEventsEndAnnotation marks the bookmark that ends the initial events of a watch that
// asked for them (sendInitialEvents=true), as in Kubernetes.
const InitialEventsEndAnnotation = "k8s.io/initial-events-end"

// Watch streams the changes to the objects of a namespace ("" for all) that match opts'
// selectors. With resourceVersion "" or "0" it first sends the current objects as ADDED events
// (unless sendInitialEvents=false); with a revision N it sends every change after N, or fails
// with 410 Gone when N is older than the retained history. Objects on the channel are shared
// and must not be modified.
func (s *Store) Watch(ctx context.Context, ns string, opts metav1.ListOptions) (watch.Interface, error) {
	p, err := s.predicateFor(opts)
	if err != nil {
		return nil, err
	}
	prefix := s.listPrefix(ns)
	initial := opts.ResourceVersion == "" || opts.ResourceVersion == "0"
	if opts.SendInitialEvents != nil {
		initial = *opts.SendInitialEvents
	}
	var start uint64
	var initialObjs []runtime.Object
	switch {
	case initial:
		list, err := s.List(ctx, ns, metav1.ListOptions{ResourceVersion: opts.ResourceVersion, LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector})
		if err != nil {
			return nil, err
		}
		lm, _ := meta.ListAccessor(list)
		start, _ = parseRV(lm.GetResourceVersion())
		if initialObjs, err = meta.ExtractList(list); err != nil {
			return nil, err
		}
	case opts.ResourceVersion == "":
		// sendInitialEvents=false without a revision: start at a linearizable "now".
		_, _, rev, err := s.reg.backend.Get(ctx, s.prefix, raftstore.ReadOptions{})
		if err != nil {
			return nil, err
		}
		start = rev
	default:
		if start, err = parseRV(opts.ResourceVersion); err != nil {
			return nil, err
		}
	}
	w, err := s.reg.backend.Watch(prefix, start)
	if err != nil {
		if errors.Is(err, raftstore.ErrCompacted) {
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%v)", start, err))
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sw := &storeWatch{result: make(chan watch.Event), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sw.done)
		defer close(sw.result)
		defer w.Close()
		s.runWatch(ctx, sw, w, p, initialObjs, start, opts)
	}()
	return sw, nil
}

// storeWatch implements watch.Interface over a raftstore watcher. Its goroutine ends when the
// watch is stopped, its context ends or the store fails it.
type storeWatch struct {
	result chan watch.Event
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

var _ watch.Interface = (*storeWatch)(nil)

// Stop ends the watch and waits for its goroutine.
func (w *storeWatch) Stop() {
	w.once.Do(w.cancel)
	<-w.done
}

// ResultChan returns the events; it is closed when the watch ends.
func (w *storeWatch) ResultChan() <-chan watch.Event { return w.result }

func (s *Store) runWatch(ctx context.Context, sw *storeWatch, w *raftstore.Watcher, p predicate, initial []runtime.Object, start uint64, opts metav1.ListOptions) {
	send := func(ev watch.Event) bool {
		select {
		case sw.result <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, obj := range initial {
		if !send(watch.Event{Type: watch.Added, Object: obj}) {
			return
		}
	}
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.AllowWatchBookmarks {
		if !send(watch.Event{Type: watch.Bookmark, Object: s.bookmark(start, true)}) {
			return
		}
	}
	interval := s.reg.cfg.BookmarkInterval
	if !opts.AllowWatchBookmarks {
		interval = 0
	}
	for {
		resp, err := w.Next(ctx, interval)
		if err != nil {
			if ctx.Err() == nil {
				send(watch.Event{Type: watch.Error, Object: s.watchErrorStatus(err)})
			}
			return
		}
		if len(resp.Events) == 0 {
			if !send(watch.Event{Type: watch.Bookmark, Object: s.bookmark(resp.Revision, false)}) {
				return
			}
			continue
		}
		for _, e := range resp.Events {
			ev, ok, err := s.convertEvent(e, p)
			if err != nil {
				send(watch.Event{Type: watch.Error, Object: s.watchErrorStatus(err)})
				return
			}
			if ok && !send(ev) {
				return
			}
		}
	}
}

// convertEvent turns a store event into a watch event for predicate p: a change that moves an
// object into the selection is ADDED, out of it DELETED.
func (s *Store) convertEvent(e raftstore.Event, p predicate) (watch.Event, bool, error) {
	var cur, prev runtime.Object
	var err error
	if e.Type == raftstore.EventPut {
		if cur, err = s.reg.cache.get(s.reg.codec, e.KV.Key, e.KV.ModRevision, e.KV.Value); err != nil {
			return watch.Event{}, false, err
		}
	}
	if e.HasPrev && (e.Type == raftstore.EventDelete || !p.empty()) {
		if prev, err = s.reg.cache.get(s.reg.codec, e.Prev.Key, e.Prev.ModRevision, e.Prev.Value); err != nil {
			return watch.Event{}, false, err
		}
	}
	curOK := cur != nil && s.matches(p, cur)
	prevOK := e.HasPrev && (p.empty() || s.matches(p, prev))
	switch {
	case curOK && prevOK:
		return watch.Event{Type: watch.Modified, Object: withRV(cur, e.KV.ModRevision)}, true, nil
	case curOK:
		return watch.Event{Type: watch.Added, Object: withRV(cur, e.KV.ModRevision)}, true, nil
	case prevOK:
		// Deleted, or changed so that it no longer matches: the last matching state, at the
		// revision of the change.
		last := prev.DeepCopyObject()
		setRV(last, e.KV.ModRevision)
		return watch.Event{Type: watch.Deleted, Object: last}, true, nil
	}
	return watch.Event{}, false, nil
}

// withRV returns a cached object whose resourceVersion is rev: cached objects already carry it.
func withRV(obj runtime.Object, rev uint64) runtime.Object {
	if m, err := meta.Accessor(obj); err == nil && m.GetResourceVersion() == strconv.FormatUint(rev, 10) {
		return obj
	}
	obj = obj.DeepCopyObject()
	setRV(obj, rev)
	return obj
}

// bookmark returns the object of a BOOKMARK event at rev.
func (s *Store) bookmark(rev uint64, initialEnd bool) runtime.Object {
	obj := s.New()
	obj.GetObjectKind().SetGroupVersionKind(s.gvk)
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatUint(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
	}
	return obj
}

// watchErrorStatus is the Status of an ERROR event: 410 Gone when the client must re-list.
func (s *Store) watchErrorStatus(err error) *metav1.Status {
	switch {
	case errors.Is(err, raftstore.ErrWatchLagged), errors.Is(err, raftstore.ErrWatchReset), errors.Is(err, raftstore.ErrCompacted):
		st := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %v", err)).ErrStatus
		return &st
	case errors.Is(err, raftstore.ErrStopped):
		return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable, Message: "the server is shutting down"}
	}
	st := apierrors.NewInternalError(err).ErrStatus
	return &st
}
