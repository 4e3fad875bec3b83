// Package informers builds client-go shared informers fed by the local store's watch: the
// leader's controllers read from them without any HTTP hop, through the same registry code the
// API serves from. The typed accessors return client-go's informer interfaces, so controllers
// written for Kubernetes' informers use them unchanged.
package informers

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/capstan-io/capstan/apiserver/registry"
)

// Resource is a served resource as the metadata client and ownerReferences name it.
type Resource struct {
	// GVR names the resource for the metadata client.
	GVR schema.GroupVersionResource
	// Kind is the resource's kind, for example "Pod".
	Kind string
	// Namespaced reports whether objects of the resource live in namespaces.
	Namespaced bool
}

// Resources returns every resource reg serves.
func Resources(reg *registry.Registry) []Resource {
	var out []Resource
	for _, s := range reg.Stores() {
		r := s.Resource()
		out = append(out, Resource{GVR: schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}, Kind: r.Kind, Namespaced: r.Namespaced})
	}
	return out
}

// Factory creates and starts shared informers over a registry. It is safe for concurrent use.
type Factory struct {
	reg *registry.Registry

	mu        sync.Mutex // protects informers and started
	informers map[schema.GroupResource]cache.SharedIndexInformer
	started   map[schema.GroupResource]bool
	wg        sync.WaitGroup
}

// NewFactory returns a factory over reg.
func NewFactory(reg *registry.Registry) *Factory {
	return &Factory{reg: reg, informers: map[schema.GroupResource]cache.SharedIndexInformer{}, started: map[schema.GroupResource]bool{}}
}

// Informer returns the shared informer of a resource, creating it on first use. Every
// informer is indexed by namespace.
func (f *Factory) Informer(gr schema.GroupResource) cache.SharedIndexInformer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inf, ok := f.informers[gr]; ok {
		return inf
	}
	store := f.reg.MustStore(gr)
	lw := &cache.ListWatch{
		ListFunc: func(opts metav1.ListOptions) (runtime.Object, error) {
			return store.List(context.Background(), "", opts)
		},
		WatchFunc: func(opts metav1.ListOptions) (watch.Interface, error) {
			return store.Watch(context.Background(), "", opts)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, store.New(), 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	f.informers[gr] = inf
	return inf
}

// Start runs every informer created so far that is not running yet, until ctx ends. Call it
// again after creating more informers.
func (f *Factory) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for gr, inf := range f.informers {
		if f.started[gr] {
			continue
		}
		f.started[gr] = true
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			inf.Run(ctx.Done())
		}()
	}
}

// WaitForCacheSync waits until every started informer has listed, or ctx ends.
func (f *Factory) WaitForCacheSync(ctx context.Context) bool {
	f.mu.Lock()
	var synced []cache.InformerSynced
	for _, inf := range f.informers {
		synced = append(synced, inf.HasSynced)
	}
	f.mu.Unlock()
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// Wait waits for the informers' goroutines, after the context given to Start ended.
func (f *Factory) Wait() { f.wg.Wait() }

var (
	podsGR            = schema.GroupResource{Resource: "pods"}
	nodesGR           = schema.GroupResource{Resource: "nodes"}
	namespacesGR      = schema.GroupResource{Resource: "namespaces"}
	servicesGR        = schema.GroupResource{Resource: "services"}
	endpointsGR       = schema.GroupResource{Resource: "endpoints"}
	serviceAccountsGR = schema.GroupResource{Resource: "serviceaccounts"}
	deploymentsGR     = schema.GroupResource{Group: "apps", Resource: "deployments"}
	replicaSetsGR     = schema.GroupResource{Group: "apps", Resource: "replicasets"}
	daemonSetsGR      = schema.GroupResource{Group: "apps", Resource: "daemonsets"}
	statefulSetsGR    = schema.GroupResource{Group: "apps", Resource: "statefulsets"}
	controllerRevsGR  = schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}
	jobsGR            = schema.GroupResource{Group: "batch", Resource: "jobs"}
	cronJobsGR        = schema.GroupResource{Group: "batch", Resource: "cronjobs"}
	endpointSlicesGR  = schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}
)

// Pods returns the pod informer.
func (f *Factory) Pods() coreinformers.PodInformer { return podInformer{f.Informer(podsGR)} }

// Nodes returns the node informer.
func (f *Factory) Nodes() coreinformers.NodeInformer { return nodeInformer{f.Informer(nodesGR)} }

// Namespaces returns the namespace informer.
func (f *Factory) Namespaces() coreinformers.NamespaceInformer {
	return namespaceInformer{f.Informer(namespacesGR)}
}

// Services returns the service informer.
func (f *Factory) Services() coreinformers.ServiceInformer {
	return serviceInformer{f.Informer(servicesGR)}
}

// Endpoints returns the endpoints informer.
func (f *Factory) Endpoints() coreinformers.EndpointsInformer {
	return endpointsInformer{f.Informer(endpointsGR)}
}

// ServiceAccounts returns the service account informer.
func (f *Factory) ServiceAccounts() coreinformers.ServiceAccountInformer {
	return serviceAccountInformer{f.Informer(serviceAccountsGR)}
}

// Deployments returns the deployment informer.
func (f *Factory) Deployments() appsinformers.DeploymentInformer {
	return deploymentInformer{f.Informer(deploymentsGR)}
}

// ReplicaSets returns the replica set informer.
func (f *Factory) ReplicaSets() appsinformers.ReplicaSetInformer {
	return replicaSetInformer{f.Informer(replicaSetsGR)}
}

// DaemonSets returns the daemon set informer.
func (f *Factory) DaemonSets() appsinformers.DaemonSetInformer {
	return daemonSetInformer{f.Informer(daemonSetsGR)}
}

// StatefulSets returns the stateful set informer.
func (f *Factory) StatefulSets() appsinformers.StatefulSetInformer {
	return statefulSetInformer{f.Informer(statefulSetsGR)}
}

// ControllerRevisions returns the controller revision informer.
func (f *Factory) ControllerRevisions() appsinformers.ControllerRevisionInformer {
	return controllerRevisionInformer{f.Informer(controllerRevsGR)}
}

// Jobs returns the job informer.
func (f *Factory) Jobs() batchinformers.JobInformer { return jobInformer{f.Informer(jobsGR)} }

// CronJobs returns the cron job informer.
func (f *Factory) CronJobs() batchinformers.CronJobInformer {
	return cronJobInformer{f.Informer(cronJobsGR)}
}

// EndpointSlices returns the endpoint slice informer.
func (f *Factory) EndpointSlices() discoveryinformers.EndpointSliceInformer {
	return endpointSliceInformer{f.Informer(endpointSlicesGR)}
}

type podInformer struct{ cache.SharedIndexInformer }

func (i podInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i podInformer) Lister() corelisters.PodLister       { return corelisters.NewPodLister(i.GetIndexer()) }

type nodeInformer struct{ cache.SharedIndexInformer }

func (i nodeInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i nodeInformer) Lister() corelisters.NodeLister {
	return corelisters.NewNodeLister(i.GetIndexer())
}

type namespaceInformer struct{ cache.SharedIndexInformer }

func (i namespaceInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i namespaceInformer) Lister() corelisters.NamespaceLister {
	return corelisters.NewNamespaceLister(i.GetIndexer())
}

type serviceInformer struct{ cache.SharedIndexInformer }

func (i serviceInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i serviceInformer) Lister() corelisters.ServiceLister {
	return corelisters.NewServiceLister(i.GetIndexer())
}

type endpointsInformer struct{ cache.SharedIndexInformer }

func (i endpointsInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i endpointsInformer) Lister() corelisters.EndpointsLister {
	return corelisters.NewEndpointsLister(i.GetIndexer())
}

type serviceAccountInformer struct{ cache.SharedIndexInformer }

func (i serviceAccountInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i serviceAccountInformer) Lister() corelisters.ServiceAccountLister {
	return corelisters.NewServiceAccountLister(i.GetIndexer())
}

type deploymentInformer struct{ cache.SharedIndexInformer }

func (i deploymentInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i deploymentInformer) Lister() appslisters.DeploymentLister {
	return appslisters.NewDeploymentLister(i.GetIndexer())
}

type replicaSetInformer struct{ cache.SharedIndexInformer }

func (i replicaSetInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i replicaSetInformer) Lister() appslisters.ReplicaSetLister {
	return appslisters.NewReplicaSetLister(i.GetIndexer())
}

type daemonSetInformer struct{ cache.SharedIndexInformer }

func (i daemonSetInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i daemonSetInformer) Lister() appslisters.DaemonSetLister {
	return appslisters.NewDaemonSetLister(i.GetIndexer())
}

type statefulSetInformer struct{ cache.SharedIndexInformer }

func (i statefulSetInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i statefulSetInformer) Lister() appslisters.StatefulSetLister {
	return appslisters.NewStatefulSetLister(i.GetIndexer())
}

type controllerRevisionInformer struct{ cache.SharedIndexInformer }

func (i controllerRevisionInformer) Informer() cache.SharedIndexInformer {
	return i.SharedIndexInformer
}
func (i controllerRevisionInformer) Lister() appslisters.ControllerRevisionLister {
	return appslisters.NewControllerRevisionLister(i.GetIndexer())
}

type cronJobInformer struct{ cache.SharedIndexInformer }

func (i cronJobInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i cronJobInformer) Lister() batchlisters.CronJobLister {
	return batchlisters.NewCronJobLister(i.GetIndexer())
}

type jobInformer struct{ cache.SharedIndexInformer }

func (i jobInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i jobInformer) Lister() batchlisters.JobLister {
	return batchlisters.NewJobLister(i.GetIndexer())
}

type endpointSliceInformer struct{ cache.SharedIndexInformer }

func (i endpointSliceInformer) Informer() cache.SharedIndexInformer { return i.SharedIndexInformer }
func (i endpointSliceInformer) Lister() discoverylisters.EndpointSliceLister {
	return discoverylisters.NewEndpointSliceLister(i.GetIndexer())
}

var (
	_ coreinformers.PodInformer                = podInformer{}
	_ coreinformers.NodeInformer               = nodeInformer{}
	_ appsinformers.DeploymentInformer         = deploymentInformer{}
	_ appsinformers.ReplicaSetInformer         = replicaSetInformer{}
	_ discoveryinformers.EndpointSliceInformer = endpointSliceInformer{}
	_ appsinformers.DaemonSetInformer          = daemonSetInformer{}
	_ appsinformers.ControllerRevisionInformer = controllerRevisionInformer{}
	_ batchinformers.JobInformer               = jobInformer{}
	_ batchinformers.CronJobInformer           = cronJobInformer{}
)
