package serviceaccount_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/capstan-io/capstan/controllers/serviceaccount"
)

// A new namespace gets its default service account.
func ExampleController_Sync() {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	client := fake.NewSimpleClientset(ns)
	factory := informers.NewSharedInformerFactory(client, 0)
	nss := factory.Core().V1().Namespaces()
	_ = nss.Informer().GetIndexer().Add(ns)

	c := serviceaccount.NewController(client, nss, factory.Core().V1().ServiceAccounts())
	_ = c.Sync(context.Background(), "demo")
	sa, err := client.CoreV1().ServiceAccounts("demo").Get(context.Background(), serviceaccount.DefaultServiceAccountName, metav1.GetOptions{})
	fmt.Println(sa.Name, err)
	// Output: default <nil>
}
