package namespace_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/capstan-io/capstan/controllers/namespace"
)

// emptyInformers hands out informers that show no objects.
type emptyInformers struct{}

func (emptyInformers) Informer(schema.GroupResource) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListFunc:  func(metav1.ListOptions) (runtime.Object, error) { return &metav1.List{}, nil },
		WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	return cache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}

// An empty namespace being deleted is finalized in one Sync.
func ExampleController_Sync() {
	ts := metav1.Now()
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	client := fake.NewSimpleClientset(ns)
	scheme := metadatafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	md := metadatafake.NewSimpleMetadataClient(scheme)
	nsInformer := informers.NewSharedInformerFactory(client, 0).Core().V1().Namespaces()
	_ = nsInformer.Informer().GetIndexer().Add(ns)

	resources := []namespace.Resource{{GVR: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Kind: "Pod", Namespaced: true}}
	c := namespace.NewController(client, md, nsInformer, emptyInformers{}, resources)
	err := c.Sync(context.Background(), "demo")
	got, _ := client.CoreV1().Namespaces().Get(context.Background(), "demo", metav1.GetOptions{})
	fmt.Println(err, got.Spec.Finalizers)
	// Output: <nil> []
}
