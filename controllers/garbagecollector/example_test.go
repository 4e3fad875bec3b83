package garbagecollector_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/capstan-io/capstan/controllers/garbagecollector"
)

// informerSet hands out one never-started informer per resource.
type informerSet map[schema.GroupResource]cache.SharedIndexInformer

func (s informerSet) Informer(gr schema.GroupResource) cache.SharedIndexInformer {
	if inf, ok := s[gr]; ok {
		return inf
	}
	lw := &cache.ListWatch{
		ListFunc:  func(metav1.ListOptions) (runtime.Object, error) { return &metav1.List{}, nil },
		WatchFunc: func(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	s[gr] = cache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
	return s[gr]
}

// A pod whose ReplicaSet is gone is deleted once the store confirms it.
func ExampleController_Sync() {
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicaSets := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	meta := metav1.ObjectMeta{
		Namespace: "demo", Name: "web-1", UID: "pod-uid", ResourceVersion: "3",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-uid"}},
	}
	scheme := metadatafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	md := metadatafake.NewSimpleMetadataClient(scheme, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta})
	infs := informerSet{}
	c := garbagecollector.NewController(md, infs, []garbagecollector.Resource{
		{GVR: pods, Kind: "Pod", Namespaced: true},
		{GVR: replicaSets, Kind: "ReplicaSet", Namespaced: true},
	})
	_ = infs.Informer(pods.GroupResource()).GetIndexer().Add(&corev1.Pod{ObjectMeta: meta})

	item := garbagecollector.Item{Resource: pods.GroupResource(), Namespace: "demo", Name: "web-1", UID: "pod-uid"}
	err := c.Sync(context.Background(), item)
	_, getErr := md.Resource(pods).Namespace("demo").Get(context.Background(), "web-1", metav1.GetOptions{})
	fmt.Println(err, apierrors.IsNotFound(getErr))
	// Output: <nil> true
}
