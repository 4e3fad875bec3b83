package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capstan-io/capstan/raftstore"
)

// predicate is a parsed label and field selector.
type predicate struct {
	labels labels.Selector
	fields fields.Selector
}

func (p predicate) empty() bool { return p.labels.Empty() && p.fields.Empty() }

// fieldSet returns the field-selector attributes of obj.
func (s *Store) fieldSet(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if s.res.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	if f := s.res.Strategy.Fields; f != nil {
		for k, v := range f(obj) {
			set[k] = v
		}
	}
	return set
}

// predicateFor parses the selectors of opts, refusing field labels the resource does not have.
func (s *Store) predicateFor(opts metav1.ListOptions) (predicate, error) {
	p := predicate{labels: labels.Everything(), fields: fields.Everything()}
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		p.labels = sel
	}
	if opts.FieldSelector != "" {
		sel, err := fields.ParseSelector(opts.FieldSelector)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", opts.FieldSelector, err))
		}
		known := s.fieldSet(s.New())
		for _, r := range sel.Requirements() {
			if _, ok := known[r.Field]; !ok {
				return p, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
			}
		}
		p.fields = sel
	}
	return p, nil
}

func (s *Store) matches(p predicate, obj runtime.Object) bool {
	if p.empty() {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return p.labels.Matches(labels.Set(m.GetLabels())) && p.fields.Matches(s.fieldSet(obj))
}

// continueToken is the opaque continue parameter of a paged list: the revision every page
// reads at and the last key returned.
type continueToken struct {
	Revision uint64 `json:"rv"`
	After    string `json:"start"`
}

func encodeContinue(t continueToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Revision == 0 || t.After == "" {
		return t, apierrors.NewBadRequest(fmt.Sprintf("continue key is not valid: %q", s))
	}
	return t, nil
}

// listChunk is how many keys List reads from the store at a time when it filters.
const listChunk = 500

// List returns the objects of a namespace ("" for all) that match the selectors of opts, a
// page at a time when opts.Limit is set.
func (s *Store) List(ctx context.Context, ns string, opts metav1.ListOptions) (runtime.Object, error) {
	p, err := s.predicateFor(opts)
	if err != nil {
		return nil, err
	}
	prefix := s.listPrefix(ns)
	ro, err := s.listReadOptions(opts)
	if err != nil {
		return nil, err
	}
	if opts.Continue != "" {
		t, err := decodeContinue(opts.Continue)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(t.After, prefix) {
			return nil, apierrors.NewBadRequest("continue key does not belong to this list")
		}
		ro.Revision, ro.After = t.Revision, t.After
	}
	if name, ok := p.fields.RequiresExactMatch("metadata.name"); ok && opts.Continue == "" && opts.Limit == 0 && (ns != "" || !s.res.Namespaced) {
		return s.listOne(ctx, ns, name, p, ro)
	}
	limit := int(opts.Limit)
	var items []runtime.Object
	out := s.NewList()
	for {
		ro.Limit = listChunk
		if limit > 0 && p.empty() {
			ro.Limit = limit - len(items) + 1 // one more tells whether another page exists
		}
		res, err := s.reg.backend.List(ctx, prefix, ro)
		if err != nil {
			return nil, s.listError(err, opts)
		}
		ro.Revision = res.Revision // every chunk reads at the first one's revision
		for i, kv := range res.KVs {
			if limit > 0 && len(items) == limit {
				// A page is full and at least one more key follows.
				setListMeta(out, res.Revision, encodeContinue(continueToken{Revision: res.Revision, After: res.KVs[i-1].Key}))
				return out, meta.SetList(out, items)
			}
			obj, err := s.decodeKV(kv)
			if err != nil {
				return nil, err
			}
			if s.matches(p, obj) {
				items = append(items, obj)
			}
			ro.After = kv.Key
		}
		if !res.More {
			setListMeta(out, res.Revision, "")
			return out, meta.SetList(out, items)
		}
		if limit > 0 && len(items) == limit {
			setListMeta(out, res.Revision, encodeContinue(continueToken{Revision: res.Revision, After: ro.After}))
			return out, meta.SetList(out, items)
		}
	}
}

// listOne serves a list selecting one name with a key lookup.
func (s *Store) listOne(ctx context.Context, ns, name string, p predicate, ro raftstore.ListOptions) (runtime.Object, error) {
	out := s.NewList()
	key, err := s.key(ns, name)
	if err != nil {
		setListMeta(out, s.reg.backend.Revision(), "")
		return out, nil
	}
	var items []runtime.Object
	var rev uint64
	if ro.Revision > 0 {
		res, err := s.reg.backend.List(ctx, key, ro)
		if err != nil {
			return nil, s.listError(err, metav1.ListOptions{})
		}
		rev = res.Revision
		for _, kv := range res.KVs {
			if kv.Key != key {
				continue
			}
			obj, err := s.decodeKV(kv)
			if err != nil {
				return nil, err
			}
			items = append(items, obj)
		}
	} else {
		kv, found, r, err := s.reg.backend.Get(ctx, key, ro.ReadOptions)
		if err != nil {
			return nil, err
		}
		rev = r
		if found {
			obj, err := s.decodeKV(kv)
			if err != nil {
				return nil, err
			}
			items = append(items, obj)
		}
	}
	var kept []runtime.Object
	for _, obj := range items {
		if s.matches(p, obj) {
			kept = append(kept, obj)
		}
	}
	setListMeta(out, rev, "")
	return out, meta.SetList(out, kept)
}

// listReadOptions maps resourceVersion and resourceVersionMatch to a store read.
func (s *Store) listReadOptions(opts metav1.ListOptions) (raftstore.ListOptions, error) {
	if opts.Continue != "" {
		if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			return raftstore.ListOptions{}, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		return raftstore.ListOptions{}, nil
	}
	switch opts.ResourceVersionMatch {
	case "", metav1.ResourceVersionMatchNotOlderThan:
		if opts.ResourceVersionMatch != "" && opts.ResourceVersion == "" {
			return raftstore.ListOptions{}, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
		}
		ro, err := readOptions(opts.ResourceVersion)
		return raftstore.ListOptions{ReadOptions: ro}, err
	case metav1.ResourceVersionMatchExact:
		rv, err := parseRV(opts.ResourceVersion)
		if err != nil {
			return raftstore.ListOptions{}, err
		}
		if rv == 0 {
			return raftstore.ListOptions{}, apierrors.NewBadRequest("resourceVersionMatch \"Exact\" requires a resourceVersion other than 0")
		}
		return raftstore.ListOptions{Revision: rv}, nil
	}
	return raftstore.ListOptions{}, apierrors.NewBadRequest(fmt.Sprintf("unsupported resourceVersionMatch %q", opts.ResourceVersionMatch))
}

// listError turns a compacted revision into 410 Gone.
func (s *Store) listError(err error, opts metav1.ListOptions) error {
	if !errors.Is(err, raftstore.ErrCompacted) {
		return err
	}
	if opts.Continue != "" {
		return apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
	}
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %s", opts.ResourceVersion))
}

func setListMeta(list runtime.Object, rev uint64, cont string) {
	if m, err := meta.ListAccessor(list); err == nil {
		m.SetResourceVersion(fmt.Sprint(rev))
		m.SetContinue(cont)
	}
}
