package apiserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	restclientwatch "k8s.io/client-go/rest/watch"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func TestPodLifecycle(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	pods := ts.client.CoreV1().Pods("default")

	created, err := pods.Create(ctx, testPod("web-1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() || created.Status.Phase != corev1.PodPending {
		t.Errorf("created pod lacks server fields: uid %q rv %q phase %q", created.UID, created.ResourceVersion, created.Status.Phase)
	}
	if created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("defaults not applied: restartPolicy %q pullPolicy %q", created.Spec.RestartPolicy, created.Spec.Containers[0].ImagePullPolicy)
	}
	if len(created.ManagedFields) == 0 {
		t.Error("created pod has no managedFields")
	}
	if _, err := pods.Create(ctx, testPod("web-1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v; want AlreadyExists", err)
	}

	got, err := pods.Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("Get = %v, %v", got, err)
	}

	// An update with the current resourceVersion succeeds; a stale one conflicts.
	got.Labels["tier"] = "front"
	updated, err := pods.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == got.ResourceVersion {
		t.Error("update did not change the resourceVersion")
	}
	got.Labels["tier"] = "back"
	if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: %v; want Conflict", err)
	}
	// A UID in the body is a precondition.
	other := updated.DeepCopy()
	other.UID = "not-the-pod"
	if _, err := pods.Update(ctx, other, metav1.UpdateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "UID in precondition") {
		t.Errorf("update with another UID: %v; want Conflict", err)
	}
	if _, err := pods.Patch(ctx, "web-1", types.MergePatchType, []byte(`{"metadata":{"uid":"not-the-pod"}}`), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("patch with another UID: %v; want Conflict", err)
	}

	// Patches of every kind.
	patches := []struct {
		name string
		typ  types.PatchType
		data string
		want string
	}{
		{name: "merge", typ: types.MergePatchType, data: `{"metadata":{"labels":{"p":"merge"}}}`, want: "merge"},
		{name: "strategic", typ: types.StrategicMergePatchType, data: `{"metadata":{"labels":{"p":"smp"}}}`, want: "smp"},
		{name: "json", typ: types.JSONPatchType, data: `[{"op":"replace","path":"/metadata/labels/p","value":"json"}]`, want: "json"},
	}
	for _, p := range patches {
		out, err := pods.Patch(ctx, "web-1", p.typ, []byte(p.data), metav1.PatchOptions{})
		if err != nil || out.Labels["p"] != p.want {
			t.Errorf("%s patch = %v, %v; want label p=%s", p.name, out.Labels, err, p.want)
		}
	}

	// List with a label selector and a field selector.
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-1", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "web-1" || list.ResourceVersion == "" {
		t.Errorf("List(app=web) = %v, %v", list, err)
	}
	list, err = pods.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=db-1"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "db-1" {
		t.Errorf("List(metadata.name=db-1) = %v, %v", list, err)
	}
	if _, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nope=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("List with an unknown field label: %v; want BadRequest", err)
	}

	// An unscheduled pod is deleted at once.
	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "web-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get after delete: %v; want NotFound", err)
	}
}

// TestWatchSeesChangesAndResumes runs a typed client-go watch in each stream format: client-go
// asks for protobuf by default, and for JSON when told to accept only JSON.
func TestWatchSeesChangesAndResumes(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name   string
		accept string
	}{
		{name: "protobuf"},
		{name: "json", accept: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tt.name}}
			if _, err := ts.client.CoreV1().Namespaces().Create(testContext(t), ns, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			rc := rest.CopyConfig(ts.config)
			rc.AcceptContentTypes = tt.accept
			testWatchSeesChangesAndResumes(t, kubernetes.NewForConfigOrDie(rc).CoreV1().ConfigMaps(tt.name))
		})
	}
}

func testWatchSeesChangesAndResumes(t *testing.T, cms typedcorev1.ConfigMapInterface) {
	ctx := testContext(t)
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first.Data["k"] = "2"
	if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"MODIFIED a", "ADDED b", "DELETED a"}
	for i, wantEv := range want {
		ev := <-w.ResultChan()
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("event %d: %s %T; want %s", i, ev.Type, ev.Object, wantEv)
		}
		if got := fmt.Sprintf("%s %s", ev.Type, cm.Name); got != wantEv {
			t.Errorf("event %d = %s; want %s", i, got, wantEv)
		}
	}

	// A watch from revision 0 starts with the current objects as ADDED events.
	w0, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w0.Stop()
	ev := <-w0.ResultChan()
	if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Errorf("first event of a watch from 0 = %s %v; want ADDED b", ev.Type, ev.Object)
	}
}

// TestWatchStreamFormats reads raw watch streams and checks the Content-Type the Accept header
// yields and the framing of the first event.
func TestWatchStreamFormats(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := testContext(t)
	if _, err := ts.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "<&>"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		accept    string
		wantType  string
		wantTable bool
	}{
		{accept: "", wantType: "application/json"},
		{accept: "application/json", wantType: "application/json"},
		{accept: "application/yaml", wantType: "application/json"},
		{accept: "application/vnd.kubernetes.protobuf", wantType: "application/vnd.kubernetes.protobuf;stream=watch"},
		{accept: "application/vnd.kubernetes.protobuf, application/json", wantType: "application/vnd.kubernetes.protobuf;stream=watch"},
		{accept: "application/json;as=Table;g=meta.k8s.io;v=v1", wantType: "application/json", wantTable: true},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			// The server ends the stream after a second; the first event is the ADDED of cm.
			code, header, body := ts.do(t, "GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0&timeoutSeconds=1", "", tt.accept, nil, testToken)
			if code != 200 || header.Get("Content-Type") != tt.wantType {
				t.Fatalf("watch: %d %q; want 200 %q (%s)", code, header.Get("Content-Type"), tt.wantType, body)
			}
			var ev metav1.WatchEvent
			var obj runtime.Object
			var err error
			if strings.HasPrefix(tt.wantType, mediaProtobuf) {
				if len(body) < 4 || int(binary.BigEndian.Uint32(body)) > len(body)-4 {
					t.Fatalf("protobuf stream of %d bytes does not start with a whole frame", len(body))
				}
				if err := ev.Unmarshal(body[4 : 4+binary.BigEndian.Uint32(body)]); err != nil {
					t.Fatalf("frame is not a WatchEvent: %v", err)
				}
				obj, _, err = protobufSerializer.Decode(ev.Object.Raw, nil, nil)
			} else {
				line, _, _ := bytes.Cut(body, []byte("\n"))
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatalf("first line %q is not a WatchEvent: %v", line, err)
				}
				if tt.wantTable {
					table := &metav1.Table{} // not in client-go's scheme
					obj, err = table, json.Unmarshal(ev.Object.Raw, table)
				} else {
					obj, _, err = jsonSerializer.Decode(ev.Object.Raw, nil, nil)
				}
			}
			if err != nil {
				t.Fatalf("event object: %v", err)
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				if tt.wantTable || o.Name != "cm" || o.Data["k"] != "<&>" {
					t.Errorf("event %s carries %s %v; want cm with its data", ev.Type, o.Name, o.Data)
				}
			case *metav1.Table:
				if !tt.wantTable || len(o.Rows) != 1 {
					t.Errorf("event %s carries a table of %d rows", ev.Type, len(o.Rows))
				}
			default:
				t.Errorf("event %s carries %T", ev.Type, obj)
			}
			if ev.Type != "ADDED" {
				t.Errorf("first event %s; want ADDED", ev.Type)
			}
		})
	}
}

// TestProtobufWatchEventsDecode encodes events as a protobuf watch stream carries them and
// reads them back with client-go's watch decoder: objects, bookmarks and the ERROR event a
// stream ends with when the client must re-list (410 Gone).
func TestProtobufWatchEventsDecode(t *testing.T) {
	gone := apierrors.NewResourceExpired("too old resource version: 1 (5)").ErrStatus
	tests := []struct {
		typ   watch.EventType
		obj   runtime.Object
		check func(runtime.Object) error
	}{
		{watch.Added, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "7"}, Data: map[string]string{"k": "v"}}, func(o runtime.Object) error {
			if cm, ok := o.(*corev1.ConfigMap); !ok || cm.Name != "cm" || cm.Data["k"] != "v" || cm.ResourceVersion != "7" {
				return fmt.Errorf("got %#v", o)
			}
			return nil
		}},
		{watch.Bookmark, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "9", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}, func(o runtime.Object) error {
			if p, ok := o.(*corev1.Pod); !ok || p.ResourceVersion != "9" {
				return fmt.Errorf("got %#v", o)
			}
			return nil
		}},
		{watch.Error, &gone, func(o runtime.Object) error {
			if err := apierrors.FromObject(o); !apierrors.IsResourceExpired(err) {
				return fmt.Errorf("got %v; want 410 Expired", err)
			}
			return nil
		}},
	}
	var stream bytes.Buffer
	for _, tt := range tests {
		setKind(tt.obj, schema.GroupVersion{Version: "v1"})
		if err := encodeProtobufEvent(&stream, tt.typ, tt.obj); err != nil {
			t.Fatal(err)
		}
	}
	frames := protobuf.LengthDelimitedFramer.NewFrameReader(io.NopCloser(&stream))
	dec := restclientwatch.NewDecoder(streaming.NewDecoder(frames, protobuf.NewRawSerializer(scheme.Scheme, scheme.Scheme)), protobufSerializer)
	for _, tt := range tests {
		typ, obj, err := dec.Decode()
		if err != nil {
			t.Fatalf("decoding the %s event: %v", tt.typ, err)
		}
		if typ != tt.typ {
			t.Errorf("event type %s; want %s", typ, tt.typ)
		}
		if err := tt.check(obj); err != nil {
			t.Errorf("%s event: %v", tt.typ, err)
		}
	}
	if _, _, err := dec.Decode(); err != io.EOF {
		t.Errorf("after the last event: %v; want EOF", err)
	}
}
