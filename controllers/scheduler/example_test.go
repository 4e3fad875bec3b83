package scheduler_test

import (
	"context"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/capstan-io/capstan/controllers/scheduler"
)

// storeBinder stands for the integrator's Binder, which writes every binding of a call in
// one store transaction.
type storeBinder struct{}

func (storeBinder) Bind(ctx context.Context, bindings []scheduler.Binding) []error {
	return make([]error, len(bindings))
}

// ExampleNewScheduler wires a scheduler to shared informers and runs it until ctx ends, as
// the Raft leader does.
func ExampleNewScheduler() {
	run := func(ctx context.Context, client kubernetes.Interface, recorder record.EventRecorder) {
		factory := informers.NewSharedInformerFactory(client, 0)
		s := scheduler.NewScheduler(client, storeBinder{}, factory.Core().V1().Pods(), factory.Core().V1().Nodes(),
			recorder, scheduler.Options{BatchSize: 256})
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		s.Run(ctx) // blocks until ctx is done
	}
	_ = run
}
