package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/capstan-io/capstan/chaos/history"
)

// Endpoint is one master slot as the workload sees it.
type Endpoint struct {
	// Slot numbers the master's place in the cluster; a replacement master takes its
	// predecessor's slot.
	Slot int
	// Name is the master's name.
	Name string
	// Config reaches the master's API with admin credentials. It must stay the same pointer
	// for a master's lifetime (clients are cached by it).
	Config *rest.Config
	// Up is false while the master's process is down.
	Up bool
}

// Cluster is what the workload needs from the running cluster.
type Cluster interface {
	// Endpoints returns the master slots, in slot order. It is called often, from many
	// goroutines.
	Endpoints() []Endpoint
}

// Config configures the KV workload.
type Config struct {
	// Namespace holds the workload's objects; it is created if missing.
	Namespace string
	// Keys is how many hot keys the clients share.
	Keys int
	// ClientsPerMaster clients are pinned to each master slot; RoamingClients pick a master per
	// request.
	ClientsPerMaster int
	RoamingClients   int
	// OpTimeout bounds one request; a request that times out has an unknown outcome.
	OpTimeout time.Duration
	// ThinkTime is the longest pause between a client's requests (uniformly random).
	ThinkTime time.Duration
	// WatchTimeout is the longest a watch stream is kept before the watcher resumes it
	// (uniformly random between half and all of it), to exercise resumption.
	WatchTimeout time.Duration
	// Seed seeds every client's choices.
	Seed uint64
}

// DefaultConfig returns the settings of the chaos runs.
func DefaultConfig() Config {
	return Config{Namespace: "chaos", Keys: 10, ClientsPerMaster: 2, RoamingClients: 2, OpTimeout: time.Second,
		ThinkTime: 10 * time.Millisecond, WatchTimeout: 20 * time.Second, Seed: 1}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Namespace == "" {
		errs = append(errs, errors.New("workload: Namespace is required"))
	}
	if c.Keys < 1 || c.Keys > 1000 {
		errs = append(errs, fmt.Errorf("workload: Keys %d must be between 1 and 1000", c.Keys))
	}
	if c.ClientsPerMaster < 0 || c.RoamingClients < 0 || c.ClientsPerMaster+c.RoamingClients == 0 {
		errs = append(errs, fmt.Errorf("workload: ClientsPerMaster %d and RoamingClients %d must be non-negative and not both 0", c.ClientsPerMaster, c.RoamingClients))
	}
	if c.OpTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("workload: OpTimeout %s is below 10ms", c.OpTimeout))
	}
	if c.ThinkTime < 0 {
		errs = append(errs, fmt.Errorf("workload: ThinkTime %s is negative", c.ThinkTime))
	}
	if c.WatchTimeout < 2*time.Second {
		errs = append(errs, fmt.Errorf("workload: WatchTimeout %s is below 2s", c.WatchTimeout))
	}
	return errors.Join(errs...)
}

// Label marks the workload's objects.
const (
	labelKey   = "capstan-chaos"
	labelValue = "kv"
	selector   = labelKey + "=" + labelValue
	valueField = "v"
	// FenceKey is the object the final fence write updates.
	FenceKey = "fence"
)

// KV is the ConfigMap workload.
type KV struct {
	cfg   Config
	rec   *history.Recorder
	keys  []string
	value atomic.Int64

	mu      sync.Mutex // protects clients
	clients map[*rest.Config]*kubernetes.Clientset

	watchCancel context.CancelFunc
	watchWG     sync.WaitGroup // watcher goroutines, joined by StopWatchers
	watchers    []*watcher
}

// NewKV returns the workload; it records into rec.
func NewKV(cfg Config, rec *history.Recorder) (*KV, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &KV{cfg: cfg, rec: rec, clients: map[*rest.Config]*kubernetes.Clientset{}}
	for i := 0; i < cfg.Keys; i++ {
		w.keys = append(w.keys, fmt.Sprintf("k%02d", i))
	}
	rec.SetKeys(append(append([]string(nil), w.keys...), FenceKey))
	return w, nil
}

// Name returns "kv".
func (w *KV) Name() string { return "kv" }

func (w *KV) clientFor(cfg *rest.Config) (*kubernetes.Clientset, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cs, ok := w.clients[cfg]; ok {
		return cs, nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	w.clients[cfg] = cs
	return cs, nil
}

// upEndpoints returns the masters that are up.
func upEndpoints(c Cluster) []Endpoint {
	var out []Endpoint
	for _, e := range c.Endpoints() {
		if e.Up {
			out = append(out, e)
		}
	}
	return out
}

// Start creates the namespace and starts the watchers, returning once each has opened its
// first stream. The watchers run until StopWatchers.
func (w *KV) Start(ctx context.Context, c Cluster) error {
	if err := w.ensureNamespace(ctx, c); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w.watchCancel = cancel
	eps := c.Endpoints()
	for _, e := range eps {
		w.watchers = append(w.watchers, newWatcher(w, c, fmt.Sprintf("watch-slot%d", e.Slot), e.Slot))
	}
	w.watchers = append(w.watchers, newWatcher(w, c, "watch-roaming", -1))
	for _, wt := range w.watchers {
		w.watchWG.Add(1)
		go func() {
			defer w.watchWG.Done()
			wt.run(wctx)
		}()
	}
	for _, wt := range w.watchers {
		select {
		case <-wt.opened:
		case <-ctx.Done():
			return fmt.Errorf("workload: watcher %s did not start: %w", wt.name, ctx.Err())
		}
	}
	return nil
}

func (w *KV) ensureNamespace(ctx context.Context, c Cluster) error {
	for {
		eps := upEndpoints(c)
		if len(eps) == 0 {
			return ErrNoMaster
		}
		cs, err := w.clientFor(eps[0].Config)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cs.CoreV1().Namespaces().Create(rctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.cfg.Namespace}}, metav1.CreateOptions{})
		cancel()
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload: create namespace %s: %v", w.cfg.Namespace, err)
		case <-time.After(200 * time.Millisecond): // retry interval
		}
	}
}

// Run drives the clients until ctx ends.
func (w *KV) Run(ctx context.Context, c Cluster) error {
	var wg sync.WaitGroup
	start := func(slot int) {
		cl := &client{w: w, c: c, slot: slot, id: w.rec.NewClientID(), known: map[string]known{}}
		cl.rng = rand.New(rand.NewPCG(w.cfg.Seed, uint64(cl.id)+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(ctx)
		}()
	}
	for _, e := range c.Endpoints() {
		for i := 0; i < w.cfg.ClientsPerMaster; i++ {
			start(e.Slot)
		}
	}
	for i := 0; i < w.cfg.RoamingClients; i++ {
		start(-1)
	}
	wg.Wait()
	return nil
}

// Fence writes the fence object through some master and returns its resourceVersion: every
// write of the run is below it, so watchers that reach it have seen everything.
func (w *KV) Fence(ctx context.Context, c Cluster) (uint64, error) {
	cl := &client{w: w, c: c, slot: -1, id: w.rec.NewClientID(), known: map[string]known{}, rng: rand.New(rand.NewPCG(w.cfg.Seed, 0))}
	var last error
	for attempt := 0; ctx.Err() == nil; attempt++ {
		eps := upEndpoints(c)
		if len(eps) == 0 {
			return 0, ErrNoMaster
		}
		ep := eps[attempt%len(eps)]
		op := cl.do(ctx, ep, history.Op{Kind: history.Update, Key: FenceKey, Value: w.nextValue()})
		if op.Outcome == history.NotFound {
			op = cl.do(ctx, ep, history.Op{Kind: history.Create, Key: FenceKey, Value: w.nextValue()})
		}
		if op.Outcome == history.OK {
			return op.RV, nil
		}
		if op.Outcome == history.Unknown {
			cl.id = w.rec.NewClientID()
		}
		last = errors.New(op.Err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // retry interval
		}
	}
	return 0, fmt.Errorf("workload: fence write: %v (%w)", last, ctx.Err())
}

// WaitWatchers waits until every watcher has vouched for revision rv (its streams delivered
// everything up to it), or ctx ends; it returns the watchers that did not get there.
func (w *KV) WaitWatchers(ctx context.Context, rv uint64) []string {
	for {
		var behind []string
		for _, wt := range w.watchers {
			if wt.progress.Load() < rv {
				behind = append(behind, fmt.Sprintf("%s at %d", wt.name, wt.progress.Load()))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return behind
		case <-time.After(50 * time.Millisecond): // polling interval
		}
	}
}

// StopWatchers ends the watchers and records their last streams.
func (w *KV) StopWatchers() {
	if w.watchCancel != nil {
		w.watchCancel()
	}
	w.watchWG.Wait()
}

// Finals lists the workload's objects on every master that is up at exactly revision rv.
func (w *KV) Finals(ctx context.Context, c Cluster, rv uint64) []history.Final {
	var out []history.Final
	for _, e := range c.Endpoints() {
		f := history.Final{Master: e.Name, RV: rv}
		if !e.Up {
			f.Err = "the master is down"
			out = append(out, f)
			continue
		}
		cs, err := w.clientFor(e.Config)
		if err == nil {
			var list corev1.ConfigMapList
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = cs.CoreV1().RESTClient().Get().Namespace(w.cfg.Namespace).Resource("configmaps").
				VersionedParams(&metav1.ListOptions{LabelSelector: selector, ResourceVersion: strconv.FormatUint(rv, 10), ResourceVersionMatch: metav1.ResourceVersionMatchExact}, scheme.ParameterCodec).
				MaxRetries(0).Do(rctx).Into(&list)
			cancel()
			if err == nil {
				f.Items = items(list.Items)
			}
		}
		if err != nil {
			f.Err = err.Error()
		}
		out = append(out, f)
	}
	return out
}

func (w *KV) nextValue() string { return "v" + strconv.FormatInt(w.value.Add(1), 10) }

func items(cms []corev1.ConfigMap) []history.Item {
	out := make([]history.Item, 0, len(cms))
	for _, cm := range cms {
		rv, _ := strconv.ParseUint(cm.ResourceVersion, 10, 64)
		out = append(out, history.Item{Key: cm.Name, Value: cm.Data[valueField], RV: rv})
	}
	return out
}

// classify turns a request's error into an outcome and HTTP status.
func classify(err error) (history.Outcome, int) {
	if err == nil {
		return history.OK, 200
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		code := int(s.Code)
		switch {
		case code == 409 && s.Reason == metav1.StatusReasonAlreadyExists:
			return history.Exists, code
		case code == 409:
			return history.Conflict, code
		case code == 404:
			return history.NotFound, code
		case code == 503, code == 429, code == 507, code == 413, code == 400, code == 403, code == 422:
			return history.Failed, code // the API says these were not applied
		}
		return history.Unknown, code // 500, 504 and anything else may have been applied
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return history.Failed, 0 // never reached a server
	}
	return history.Unknown, 0
}

// known is what a client believes about a key.
type known struct {
	valid  bool
	exists bool
	rv     uint64
}

// client is one workload client: one request at a time.
type client struct {
	w     *KV
	c     Cluster
	slot  int // -1 roams
	id    int
	rng   *rand.Rand
	known map[string]known
}

func (cl *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		ep, ok := cl.endpoint()
		if !ok {
			pause(ctx, 50*time.Millisecond) // the master is down; wait for it
			continue
		}
		op := cl.do(ctx, ep, cl.next())
		if ctx.Err() != nil && op.Outcome != history.OK {
			return // the run is over; the interrupted request is recorded as unknown
		}
		switch op.Outcome {
		case history.Unknown:
			cl.id = cl.w.rec.NewClientID()
		case history.Failed:
			pause(ctx, 20*time.Millisecond)
		}
		if cl.w.cfg.ThinkTime > 0 {
			pause(ctx, time.Duration(cl.rng.Int64N(int64(cl.w.cfg.ThinkTime))))
		}
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// endpoint picks the master for the next request.
func (cl *client) endpoint() (Endpoint, bool) {
	if cl.slot >= 0 {
		for _, e := range cl.c.Endpoints() {
			if e.Slot == cl.slot {
				return e, e.Up
			}
		}
		return Endpoint{}, false
	}
	eps := upEndpoints(cl.c)
	if len(eps) == 0 {
		return Endpoint{}, false
	}
	return eps[cl.rng.IntN(len(eps))], true
}

// next chooses the next operation from what the client believes.
func (cl *client) next() history.Op {
	key := cl.w.keys[cl.rng.IntN(len(cl.w.keys))]
	k := cl.known[key]
	r := cl.rng.Float64()
	switch {
	case r < 0.10:
		return history.Op{Kind: history.List}
	case r < 0.35 || !k.valid:
		return history.Op{Kind: history.Get, Key: key}
	case !k.exists:
		return history.Op{Kind: history.Create, Key: key, Value: cl.w.nextValue()}
	case r < 0.80:
		// Always conditional: Capstan refuses unconditional ConfigMap updates (422), unlike
		// Kubernetes.
		return history.Op{Kind: history.Update, Key: key, Value: cl.w.nextValue(), PrecondRV: k.rv}
	case r < 0.95:
		return history.Op{Kind: history.Delete, Key: key, PrecondRV: k.rv}
	}
	return history.Op{Kind: history.Create, Key: key, Value: cl.w.nextValue()} // expect AlreadyExists
}

// do sends op to ep, records it and updates the client's beliefs.
func (cl *client) do(ctx context.Context, ep Endpoint, op history.Op) history.Op {
	op.Client, op.Master = cl.id, ep.Name
	cs, err := cl.w.clientFor(ep.Config)
	if err != nil {
		op.Outcome, op.Err = history.Failed, err.Error()
		return op
	}
	rc := cs.CoreV1().RESTClient()
	ns := cl.w.cfg.Namespace
	rctx, cancel := context.WithTimeout(ctx, cl.w.cfg.OpTimeout)
	defer cancel()
	var out corev1.ConfigMap
	op.Call = cl.w.rec.Now()
	switch op.Kind {
	case history.Create:
		err = rc.Post().Namespace(ns).Resource("configmaps").Body(cl.object(op)).MaxRetries(0).Do(rctx).Into(&out)
	case history.Update:
		err = rc.Put().Namespace(ns).Resource("configmaps").Name(op.Key).Body(cl.object(op)).MaxRetries(0).Do(rctx).Into(&out)
	case history.Delete:
		opts := &metav1.DeleteOptions{}
		if op.PrecondRV != 0 {
			rv := strconv.FormatUint(op.PrecondRV, 10)
			opts.Preconditions = &metav1.Preconditions{ResourceVersion: &rv}
		}
		err = rc.Delete().Namespace(ns).Resource("configmaps").Name(op.Key).Body(opts).MaxRetries(0).Do(rctx).Error()
	case history.Get:
		err = rc.Get().Namespace(ns).Resource("configmaps").Name(op.Key).MaxRetries(0).Do(rctx).Into(&out)
	case history.List:
		var list corev1.ConfigMapList
		err = rc.Get().Namespace(ns).Resource("configmaps").VersionedParams(&metav1.ListOptions{LabelSelector: selector}, scheme.ParameterCodec).
			MaxRetries(0).Do(rctx).Into(&list)
		if err == nil {
			op.RV, _ = strconv.ParseUint(list.ResourceVersion, 10, 64)
			op.Items = items(list.Items)
		}
	}
	op.Return = cl.w.rec.Now()
	op.Outcome, op.Status = classify(err)
	if err != nil {
		op.Err = err.Error()
	}
	if err == nil && op.Kind != history.List && op.Kind != history.Delete {
		op.RV, _ = strconv.ParseUint(out.ResourceVersion, 10, 64)
		if op.Kind == history.Get {
			op.Value = out.Data[valueField]
		}
	}
	cl.w.rec.AddOp(op)
	cl.learn(op)
	return op
}

func (cl *client) object(op history.Op) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: op.Key, Namespace: cl.w.cfg.Namespace, Labels: map[string]string{labelKey: labelValue}},
		Data:       map[string]string{valueField: op.Value},
	}
	if op.PrecondRV != 0 {
		cm.ResourceVersion = strconv.FormatUint(op.PrecondRV, 10)
	}
	return cm
}

// learn updates the client's beliefs from an answer.
func (cl *client) learn(op history.Op) {
	if op.Kind == history.List {
		if op.Outcome == history.OK {
			seen := map[string]bool{}
			for _, it := range op.Items {
				cl.known[it.Key] = known{valid: true, exists: true, rv: it.RV}
				seen[it.Key] = true
			}
			for _, k := range cl.w.keys {
				if !seen[k] {
					cl.known[k] = known{valid: true}
				}
			}
		}
		return
	}
	switch {
	case op.Outcome == history.OK && op.Kind == history.Delete, op.Outcome == history.NotFound:
		cl.known[op.Key] = known{valid: true}
	case op.Outcome == history.OK:
		cl.known[op.Key] = known{valid: true, exists: true, rv: op.RV}
	default:
		delete(cl.known, op.Key)
	}
}

// watcher lists and watches the workload's objects on one master slot (or any master, when
// roaming), recording every stream.
type watcher struct {
	w    *KV
	c    Cluster
	name string
	slot int
	id   int
	rng  *rand.Rand
	// progress is the highest revision the watcher's streams vouched for.
	progress atomic.Uint64
	opened   chan struct{}
	once     sync.Once
}

func newWatcher(w *KV, c Cluster, name string, slot int) *watcher {
	id := w.rec.NewClientID()
	return &watcher{w: w, c: c, name: name, slot: slot, id: id, rng: rand.New(rand.NewPCG(w.cfg.Seed, uint64(id)+1)), opened: make(chan struct{})}
}

// endpoint picks the master to watch: the slot's, or for the roaming watcher the next master
// that is up after the previous one.
func (wt *watcher) endpoint(prev string) (Endpoint, bool) {
	eps := wt.c.Endpoints()
	if wt.slot >= 0 {
		for _, e := range eps {
			if e.Slot == wt.slot {
				return e, e.Up
			}
		}
		return Endpoint{}, false
	}
	up := upEndpoints(wt.c)
	if len(up) == 0 {
		return Endpoint{}, false
	}
	for i, e := range up {
		if e.Name == prev {
			return up[(i+1)%len(up)], true
		}
	}
	return up[wt.rng.IntN(len(up))], true
}

// run lists, then watches and resumes until ctx ends.
func (wt *watcher) run(ctx context.Context) {
	var rv uint64
	listed := false
	prev := ""
	for ctx.Err() == nil {
		ep, ok := wt.endpoint(prev)
		if !ok {
			pause(ctx, 50*time.Millisecond) // the master is down; wait for it
			continue
		}
		prev = ep.Name
		cs, err := wt.w.clientFor(ep.Config)
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			continue
		}
		if !listed {
			cl := &client{w: wt.w, c: wt.c, slot: wt.slot, id: wt.id, rng: wt.rng, known: map[string]known{}}
			op := cl.do(ctx, ep, history.Op{Kind: history.List})
			if op.Outcome != history.OK {
				if op.Outcome == history.Unknown {
					wt.id = wt.w.rec.NewClientID()
				}
				pause(ctx, 100*time.Millisecond)
				continue
			}
			rv, listed = op.RV, true
			wt.progress.Store(max(wt.progress.Load(), rv))
		}
		s := wt.stream(ctx, cs, ep.Name, rv)
		if s.Expired {
			listed = false
		} else {
			rv = s.LastRV()
		}
		if len(s.Events) == 0 && !s.Expired && ctx.Err() == nil {
			pause(ctx, 100*time.Millisecond) // a stream that failed at once: back off
		}
	}
}

// stream runs one watch from rv and records it.
func (wt *watcher) stream(ctx context.Context, cs *kubernetes.Clientset, master string, rv uint64) history.Stream {
	s := history.Stream{Watcher: wt.name, Master: master, StartRV: rv, Opened: wt.w.rec.Now()}
	defer func() {
		s.Closed = wt.w.rec.Now()
		wt.w.rec.AddStream(s)
	}()
	half := int64(wt.w.cfg.WatchTimeout / time.Second / 2)
	timeout := half + wt.rng.Int64N(half+1)
	w, err := cs.CoreV1().ConfigMaps(wt.w.cfg.Namespace).Watch(ctx, metav1.ListOptions{
		LabelSelector: selector, ResourceVersion: strconv.FormatUint(rv, 10), AllowWatchBookmarks: true, TimeoutSeconds: &timeout,
	})
	if err != nil {
		s.Expired = apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
		s.EndErr = err.Error()
		return s
	}
	defer w.Stop()
	wt.once.Do(func() { close(wt.opened) })
	for {
		select {
		case <-ctx.Done():
			s.EndErr = "stopped"
			return s
		case ev, ok := <-w.ResultChan():
			if !ok {
				s.EndErr = "closed"
				return s
			}
			if ev.Type == watch.Error {
				err := apierrors.FromObject(ev.Object)
				s.Expired = apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
				s.EndErr = err.Error()
				return s
			}
			e, ok := event(ev, wt.w.rec.Now())
			if !ok {
				s.EndErr = fmt.Sprintf("unexpected %s event object %T", ev.Type, ev.Object)
				return s
			}
			s.Events = append(s.Events, e)
			wt.progress.Store(max(wt.progress.Load(), e.RV))
		}
	}
}

// event converts a watch event.
func event(ev watch.Event, at int64) (history.Event, bool) {
	cm, ok := ev.Object.(*corev1.ConfigMap)
	if !ok {
		return history.Event{}, false
	}
	rv, _ := strconv.ParseUint(cm.ResourceVersion, 10, 64)
	e := history.Event{Type: string(ev.Type), RV: rv, At: at}
	if ev.Type != watch.Bookmark {
		e.Key, e.Value = cm.Name, cm.Data[valueField]
	}
	return e, true
}
