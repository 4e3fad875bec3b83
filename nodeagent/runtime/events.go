package runtime

import (
	"context"
	"fmt"
	"time"

	// Registers the event types so that typeurl can decode them (RUNTIME.md pitfall 3).
	eventstypes "github.com/containerd/containerd/api/events"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	apitypes "github.com/containerd/containerd/api/types"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
)

// Event stream reconnection back-off.
const (
	eventBackoffMin = 50 * time.Millisecond
	eventBackoffMax = 2 * time.Second
)

// Events implements Runtime.
func (r *Containerd) Events() <-chan Event { return r.events }

// subscribe opens a stream of the task exit and OOM events of the runtime's namespace. It returns
// once the stream is open, so that a consumer that lists state afterwards misses nothing.
func (r *Containerd) subscribe(ctx context.Context) (eventsapi.Events_SubscribeClient, error) {
	ns := fmt.Sprintf("namespace==%q", r.cfg.Namespace)
	return eventsapi.NewEventsClient(r.client.Conn()).Subscribe(r.nsctx(ctx), &eventsapi.SubscribeRequest{
		Filters: []string{ns + `,topic=="/tasks/exit"`, ns + `,topic=="/tasks/oom"`},
	})
}

// runEvents follows the event stream, starting with stream (opened by New), until ctx ends. When
// the stream breaks (containerd restarted) it resubscribes with back-off and, once subscribed,
// sends EventResync: events of the gap are lost, and a consumer that reconciles now sees every
// later change as an event. It is the only event loop; exits are handled on goroutines tracked by
// r.handlers.
func (r *Containerd) runEvents(ctx context.Context, stream eventsapi.Events_SubscribeClient) {
	defer r.evLoop.Done()
	backoff := eventBackoffMin
	for ctx.Err() == nil {
		if stream == nil {
			var err error
			if stream, err = r.subscribe(ctx); err != nil {
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				backoff = min(2*backoff, eventBackoffMax)
				continue
			}
			backoff = eventBackoffMin
			r.send(Event{Type: EventResync, Time: time.Now()})
		}
		env, err := stream.Recv()
		if err != nil {
			stream = nil
			continue
		}
		r.handle(ctx, env)
	}
}

// handle acts on one event. An OOM is recorded in the container's labels at once, so that the
// exit that follows is finalised as OOMKilled; an exit of a main process is finalised on its own
// goroutine (finalize takes a few round trips) and then announced.
func (r *Containerd) handle(ctx context.Context, env *apitypes.Envelope) {
	if env == nil || env.Event == nil {
		return
	}
	v, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		return
	}
	ctx = r.nsctx(ctx)
	switch e := v.(type) {
	case *eventstypes.TaskOOM:
		c, err := r.client.LoadContainer(ctx, e.ContainerID)
		if err != nil {
			return
		}
		labels, err := c.SetLabels(ctx, map[string]string{labelOOMKilled: "true"})
		if err != nil && !errdefs.IsNotFound(err) {
			return
		}
		r.send(Event{Type: EventContainerOOM, ContainerID: e.ContainerID, PodUID: labels[labelPodUID], Time: env.Timestamp.AsTime()})
	case *eventstypes.TaskExit:
		if e.ID != e.ContainerID {
			return // an exec'd process
		}
		r.handlers.Add(1)
		go func() {
			defer r.handlers.Done()
			labels, err := r.finalize(ctx, e.ContainerID)
			if err != nil || labels == nil {
				// Someone else finalised it (StopContainer) or it is gone: read what is recorded.
				c, lerr := r.client.ContainerService().Get(ctx, e.ContainerID)
				if lerr != nil {
					return
				}
				labels = c.Labels
			}
			r.send(Event{Type: EventContainerExited, ContainerID: e.ContainerID, PodUID: labels[labelPodUID],
				ExitCode: int32(e.ExitStatus), Time: e.ExitedAt.AsTime()})
		}()
	}
}

// send delivers e without blocking. When the channel is full the event is dropped and an
// EventResync is owed, delivered before the next event that fits.
func (r *Containerd) send(e Event) {
	r.evMu.Lock()
	defer r.evMu.Unlock()
	if r.evClosed {
		return
	}
	if r.evLost {
		select {
		case r.events <- Event{Type: EventResync, Time: time.Now()}:
			r.evLost = false
		default:
			return
		}
	}
	select {
	case r.events <- e:
	default:
		r.evLost = true
	}
}
