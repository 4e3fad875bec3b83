package apiserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	discoveryclient "k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// do sends a raw request to the test server and decodes a Status from error replies.
func (ts *testServer) do(t *testing.T, method, path, contentType, accept string, body []byte, token string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func TestBadInputGetsAStatus(t *testing.T) {
	ts := newTestServer(t, nil)
	big := bytes.Repeat([]byte("x"), 4<<20)
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		raw         []byte
		token       string
		wantCode    int
		wantReason  metav1.StatusReason
		wantMessage string
	}{
		{name: "no credentials", method: "GET", path: "/api/v1/pods", wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "wrong token", method: "GET", path: "/api/v1/pods", token: "nope", wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "missing object", method: "GET", path: "/api/v1/namespaces/default/pods/nope", wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMessage: `pods "nope" not found`},
		{name: "unknown resource", method: "GET", path: "/api/v1/namespaces/default/widgets", wantCode: 404, wantReason: metav1.StatusReasonNotFound},
		{name: "malformed json", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", body: `{"kind":`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "empty body", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "wrong kind", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", body: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "unsupported media type", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "text/plain", body: "x", wantCode: 415, wantReason: metav1.StatusReasonUnsupportedMediaType},
		{name: "unsupported patch type", method: "PATCH", path: "/api/v1/namespaces/default/configmaps/x", contentType: "application/xml", body: "x", wantCode: 415, wantReason: metav1.StatusReasonUnsupportedMediaType},
		{name: "body too large", method: "POST", path: "/api/v1/namespaces/default/configmaps", contentType: "application/json", raw: big, wantCode: 413, wantReason: metav1.StatusReasonRequestEntityTooLarge},
		{name: "object too large", method: "POST", path: "/api/v1/namespaces/default/pods", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"busybox","args":["` + strings.Repeat("y", 2<<20) + `"]}]}}`, wantCode: 413, wantReason: metav1.StatusReasonRequestEntityTooLarge},
		{name: "invalid object", method: "POST", path: "/api/v1/namespaces/default/pods", contentType: "application/json", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[]}}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid},
		{name: "missing namespace", method: "POST", path: "/api/v1/namespaces/ghost/configmaps", contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantMessage: `namespaces "ghost" not found`},
		{name: "strict unknown field", method: "POST", path: "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"bogus":1}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantMessage: `unknown field "bogus"`},
		{name: "bad dryRun", method: "POST", path: "/api/v1/namespaces/default/configmaps?dryRun=Some", contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "bad label selector", method: "GET", path: "/api/v1/pods?labelSelector=a%3D%3D%3Db", wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "bad resourceVersion", method: "GET", path: "/api/v1/pods?resourceVersion=abc", wantCode: 400, wantReason: metav1.StatusReasonBadRequest},
		{name: "method not allowed on subresource", method: "DELETE", path: "/api/v1/namespaces/default/pods/x/status", wantCode: 405, wantReason: metav1.StatusReasonMethodNotAllowed},
		{name: "not acceptable", method: "GET", path: "/api/v1/pods", wantCode: 406, wantReason: metav1.StatusReasonNotAcceptable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := testToken
			if tt.name == "no credentials" {
				token = ""
			} else if tt.token != "" {
				token = tt.token
			}
			body := tt.raw
			if body == nil {
				body = []byte(tt.body)
			}
			accept := ""
			if tt.name == "not acceptable" {
				accept = "text/html"
			}
			code, _, data := ts.do(t, tt.method, tt.path, tt.contentType, accept, body, token)
			var st metav1.Status
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatalf("reply %d is not a Status: %s", code, data)
			}
			if code != tt.wantCode || st.Code != int32(tt.wantCode) || st.Reason != tt.wantReason || st.Kind != "Status" {
				t.Errorf("%s %s = %d %s (%s); want %d %s", tt.method, tt.path, code, st.Reason, st.Message, tt.wantCode, tt.wantReason)
			}
			if !strings.Contains(st.Message, tt.wantMessage) {
				t.Errorf("message %q; want it to contain %q", st.Message, tt.wantMessage)
			}
		})
	}
	// Nothing was written by any of the refused requests.
	cms, err := ts.client.CoreV1().ConfigMaps("").List(testContext(t), metav1.ListOptions{})
	if err != nil || len(cms.Items) != 0 {
		t.Errorf("after refused requests the store holds %d configmaps, %v", len(cms.Items), err)
	}
}

func TestCompactedRevisionsAreGone(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	first, err := ts.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := ts.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseUint(second.ResourceVersion, 10, 64)
	if err := ts.store.Compact(ctx, rv); err != nil {
		t.Fatal(err)
	}
	_, err = ts.client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("List at a compacted revision: %v; want 410", err)
	}
	// A watch from below the compaction point is gone too.
	if _, err := ts.client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("Watch from a compacted revision: %v; want 410", err)
	}
}

func TestInvalidObjectReportsFieldCauses(t *testing.T) {
	ts := newTestServer(t, nil)
	_, err := ts.client.CoreV1().Pods("default").Create(testContext(t), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
	var se *apierrors.StatusError
	if !apierrors.IsInvalid(err) || !errorsAs(err, &se) || se.ErrStatus.Details == nil || len(se.ErrStatus.Details.Causes) == 0 {
		t.Fatalf("create pod without containers: %v; want Invalid with causes", err)
	}
	if c := se.ErrStatus.Details.Causes[0]; c.Field != "spec.containers" || c.Type != metav1.CauseTypeFieldValueRequired {
		t.Errorf("first cause = %+v; want spec.containers Required", c)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}
	if _, err := ts.client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get after a dry-run create: %v; want NotFound", err)
	}
}

func TestDiscoveryAndTables(t *testing.T) {
	ts := newTestServer(t, nil)
	dc, err := discoveryclient.NewDiscoveryClientForConfig(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	groups, resources, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range resources {
		for _, r := range l.APIResources {
			names[l.GroupVersion+"/"+r.Name] = true
		}
	}
	for _, want := range []string{"v1/pods", "v1/pods/status", "v1/pods/binding", "apps/v1/deployments/scale", "batch/v1/cronjobs", "rbac.authorization.k8s.io/v1/clusterroles", "discovery.k8s.io/v1/endpointslices"} {
		if !names[want] {
			t.Errorf("discovery lacks %s", want)
		}
	}
	if len(groups) != 6 {
		t.Errorf("discovery lists %d groups; want 6 (core, apps, batch, discovery.k8s.io, rbac, coordination)", len(groups))
	}
	v, err := dc.ServerVersion()
	if err != nil || v.Major != "1" || v.Minor != "32" {
		t.Errorf("ServerVersion = %+v, %v; want 1.32", v, err)
	}

	if _, err := ts.client.CoreV1().Pods("default").Create(testContext(t), testPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, _, data := ts.do(t, "GET", "/api/v1/namespaces/default/pods?limit=500", "", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", nil, testToken)
	var table metav1.Table
	if err := json.Unmarshal(data, &table); err != nil || code != 200 || table.Kind != "Table" {
		t.Fatalf("Table list = %d %s", code, data)
	}
	if len(table.ColumnDefinitions) == 0 || table.ColumnDefinitions[0].Name != "Name" || len(table.Rows) != 1 || table.ResourceVersion == "" {
		t.Errorf("Table = %d columns, %d rows, rv %q", len(table.ColumnDefinitions), len(table.Rows), table.ResourceVersion)
	}
}

func TestServerSideApplyAndScale(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	deploys := ts.client.AppsV1().Deployments("default")
	manifest := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},` +
		`"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1"}]}}}}`
	d, err := deploys.Patch(ctx, "web", types.ApplyPatchType, []byte(manifest), metav1.PatchOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 1 || *d.Spec.Replicas != 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("applied deployment: generation %d replicas %d strategy %q", d.Generation, *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	sc, err := deploys.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 2 || sc.Status.Selector != "app=web" {
		t.Fatalf("GetScale = %+v, %v", sc, err)
	}
	if _, err := deploys.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-scale"}, "scale"); err != nil {
		t.Fatal(err)
	}
	d, _ = deploys.Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 5 || d.Generation != 2 {
		t.Errorf("after scale: replicas %d generation %d; want 5 and 2", *d.Spec.Replicas, d.Generation)
	}
	// Applying replicas 2 again conflicts with kubectl-scale's ownership.
	_, err = deploys.Patch(ctx, "web", types.ApplyPatchType, []byte(manifest), metav1.PatchOptions{FieldManager: "kubectl"})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "kubectl-scale") {
		t.Errorf("re-apply after scale: %v; want a conflict naming kubectl-scale", err)
	}
	if _, err := deploys.Patch(ctx, "web", types.ApplyPatchType, []byte(manifest), metav1.PatchOptions{FieldManager: "kubectl", Force: ptr.To(true)}); err != nil {
		t.Errorf("forced re-apply: %v", err)
	}
}

func TestBindingIsOnceAndNamespaceDeletion(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	if _, err := ts.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := ts.client.CoreV1().Pods("team")
	if _, err := pods.Create(ctx, testPod("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("n1"); err != nil {
		t.Fatal(err)
	}
	if err := bind("n2"); !apierrors.IsConflict(err) {
		t.Errorf("second binding: %v; want Conflict", err)
	}
	p, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if p.Spec.NodeName != "n1" {
		t.Errorf("pod bound to %q; want n1", p.Spec.NodeName)
	}
	// A bound pod is deleted gracefully: it stays with a deletion timestamp.
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("bound pod after delete = %v, %v; want it terminating with 30s grace", p, err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete with grace 0: %v; want NotFound", err)
	}

	// Deleting a namespace leaves it Terminating until its finalizer is removed.
	nsClient := ts.client.CoreV1().Namespaces()
	if err := nsClient.Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := nsClient.Get(ctx, "team", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("deleted namespace = %v, %v; want Terminating", ns, err)
	}
	if _, err := ts.client.CoreV1().ConfigMaps("team").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("create in a terminating namespace: %v; want Forbidden", err)
	}
	ns.Spec.Finalizers = nil
	if _, err := nsClient.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nsClient.Get(ctx, "team", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after finalize: %v; want NotFound", err)
	}
}

func TestServicesGetDistinctAddresses(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	svcs := ts.client.CoreV1().Services("default")
	seenIP, seenPort := map[string]bool{}, map[int32]bool{}
	for _, name := range []string{"a", "b", "c"} {
		svc, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ip, port := svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort
		if ip == "" || seenIP[ip] || port < 30000 || port > 32767 || seenPort[port] {
			t.Errorf("service %s got IP %q node port %d; want distinct, in range", name, ip, port)
		}
		seenIP[ip], seenPort[port] = true, true
	}
	a, _ := svcs.Get(ctx, "a", metav1.GetOptions{})
	taken := a.Spec.ClusterIP
	_, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec: corev1.ServiceSpec{ClusterIP: taken, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "already allocated") {
		t.Errorf("service asking for a taken IP: %v; want Invalid, already allocated", err)
	}
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reuse"},
		Spec: corev1.ServiceSpec{ClusterIP: taken, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("reusing a released IP: %v", err)
	}
}

func TestPagingAndProtobufBodies(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	cfg := *ts.config
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	pb := kubernetes.NewForConfigOrDie(&cfg)
	for i := 0; i < 7; i++ {
		if _, err := pb.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: string(rune('a' + i))}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := metav1.ListOptions{Limit: 3}
	for pages := 0; ; pages++ {
		list, err := ts.client.CoreV1().ConfigMaps("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range list.Items {
			names = append(names, cm.Name)
		}
		if list.Continue == "" {
			if pages != 2 {
				t.Errorf("listed in %d pages; want 3", pages+1)
			}
			break
		}
		opts.Continue = list.Continue
	}
	if strings.Join(names, "") != "abcdefg" {
		t.Errorf("paged names = %v", names)
	}
}

func errorsAs(err error, target **apierrors.StatusError) bool {
	se, ok := err.(*apierrors.StatusError)
	if ok {
		*target = se
	}
	return ok
}
