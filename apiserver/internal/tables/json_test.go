package tables

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// jsonPods is a pod list whose Table the JSON tests encode.
func jsonPods() *corev1.PodList {
	web := podWith([]string{"app"}, nil)
	web.Name, web.Namespace, web.Labels = "web-1", "prod", map[string]string{"app": "web"}
	web.Status.Phase = corev1.PodRunning
	cs := status("app", running(), true, 3)
	cs.LastTerminationState = restarted(5 * time.Minute)
	web.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	web.Spec.NodeName = "node-1"
	web.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.7"}}

	done := podWith([]string{"app"}, nil)
	done.Name, done.Namespace = "job-1", "batch"
	done.Status.Phase = corev1.PodSucceeded
	done.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", terminated("Completed", 0, 0), false, 0)}
	return &corev1.PodList{Items: []corev1.Pod{*web, *done}}
}

// encodeTable encodes table the way the apiserver's JSON serializer does.
func encodeTable(t *testing.T, table *metav1.Table) []byte {
	t.Helper()
	s := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(s); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, s, s, k8sjson.SerializerOptions{})
	if err := enc.Encode(table, &buf); err != nil {
		t.Fatalf("encoding Table: %v", err)
	}
	return buf.Bytes()
}

func TestTableJSONRoundTrip(t *testing.T) {
	table, err := For(podsGR).Convert(jsonPods(), now, Options{})
	if err != nil {
		t.Fatalf("Convert(PodList) error: %v", err)
	}
	table.ResourceVersion = "1234"
	data := encodeTable(t, table)

	// Decode with apimachinery's codecs into a typed metav1.Table.
	s := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(s); err != nil {
		t.Fatal(err)
	}
	obj, gvk, err := serializer.NewCodecFactory(s).UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if gvk.String() != "meta.k8s.io/v1, Kind=Table" {
		t.Errorf("decoded kind = %v; want meta.k8s.io/v1 Table", gvk)
	}
	got, ok := obj.(*metav1.Table)
	if !ok {
		t.Fatalf("decoded %T; want *metav1.Table", obj)
	}
	var names []string
	for _, c := range got.ColumnDefinitions {
		names = append(names, c.Name)
	}
	wantNames := []string{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("decoded column names mismatch (-want +got):\n%s", diff)
	}
	if got.ResourceVersion != "1234" {
		t.Errorf("decoded resourceVersion = %q; want 1234", got.ResourceVersion)
	}
	wantCells := [][]any{
		{"web-1", "1/1", "Running", "3 (5m ago)", "60m", "10.0.0.7", "node-1", "<none>", "<none>"},
		{"job-1", "0/1", "Completed", "0", "60m", "<none>", "<none>", "<none>", "<none>"},
	}
	if len(got.Rows) != len(wantCells) {
		t.Fatalf("decoded %d rows; want %d", len(got.Rows), len(wantCells))
	}
	for i, row := range got.Rows {
		if diff := cmp.Diff(wantCells[i], row.Cells); diff != "" {
			t.Errorf("decoded row %d cells mismatch (-want +got):\n%s", i, diff)
		}
		// Row objects travel as raw JSON; kubectl decodes them as unstructured objects.
		u, err := runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw)
		if err != nil {
			t.Fatalf("decoding row %d object %s: %v", i, row.Object.Raw, err)
		}
		m := u.(*unstructured.Unstructured)
		if m.GetKind() != "PartialObjectMetadata" || m.GetAPIVersion() != "meta.k8s.io/v1" {
			t.Errorf("row %d object is %s %s; want meta.k8s.io/v1 PartialObjectMetadata", i, m.GetAPIVersion(), m.GetKind())
		}
		if want := jsonPods().Items[i]; m.GetName() != want.Name || m.GetNamespace() != want.Namespace {
			t.Errorf("row %d object = %s/%s; want %s/%s", i, m.GetNamespace(), m.GetName(), want.Namespace, want.Name)
		}
	}
	if diff := cmp.Diff(podSucceededConditions, got.Rows[1].Conditions); diff != "" {
		t.Errorf("decoded row conditions mismatch (-want +got):\n%s", diff)
	}
}

// TestTableAsKubectlDecodesIt follows kubectl 1.32's path: the response is decoded as an
// unstructured object, converted into a metav1.Table, and each row's object decoded on its own.
func TestTableAsKubectlDecodesIt(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantKind string
	}{
		{name: "metadata rows", opts: Options{}, wantKind: "PartialObjectMetadata"},
		{name: "full objects for sort-by", opts: Options{IncludeObject: metav1.IncludeObject}, wantKind: "Pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := For(podsGR).Convert(jsonPods(), now, tt.opts)
			if err != nil {
				t.Fatalf("Convert(PodList) error: %v", err)
			}
			u, err := runtime.Decode(unstructured.UnstructuredJSONScheme, encodeTable(t, table))
			if err != nil {
				t.Fatalf("decoding as unstructured: %v", err)
			}
			var got metav1.Table
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.(*unstructured.Unstructured).Object, &got); err != nil {
				t.Fatalf("converting unstructured into a Table: %v", err)
			}
			if len(got.ColumnDefinitions) != 9 || got.ColumnDefinitions[5].Priority != 1 {
				t.Errorf("columns = %+v; want 9 with IP at priority 1", got.ColumnDefinitions)
			}
			for i, row := range got.Rows {
				obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw)
				if err != nil {
					t.Fatalf("decoding row %d object: %v", i, err)
				}
				m := obj.(*unstructured.Unstructured)
				if m.GetKind() != tt.wantKind {
					t.Errorf("row %d object kind = %q; want %q", i, m.GetKind(), tt.wantKind)
				}
				if m.GetNamespace() == "" {
					t.Errorf("row %d object has no namespace; kubectl -A needs it", i)
				}
			}
			if labels := got.Rows[0].Object.Raw; !bytes.Contains(labels, []byte(`"app":"web"`)) {
				t.Errorf("row 0 object %s lacks the labels --show-labels needs", labels)
			}
		})
	}
}

func TestNoHeadersTableJSON(t *testing.T) {
	table, err := For(podsGR).Convert(&jsonPods().Items[0], now, Options{NoHeaders: true})
	if err != nil {
		t.Fatalf("Convert(pod) error: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(encodeTable(t, table), &fields); err != nil {
		t.Fatal(err)
	}
	// The reference apiserver encodes omitted column definitions as null.
	if got := string(fields["columnDefinitions"]); got != "null" {
		t.Errorf("columnDefinitions = %s; want null", got)
	}
	if got := string(fields["kind"]); got != `"Table"` {
		t.Errorf("kind = %s; want \"Table\"", got)
	}
}

func TestIntegerCellsDecodeAsIntegers(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: objMeta("web-1"), Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(3))}}
	rs.Status.Replicas, rs.Status.ReadyReplicas = 3, 2
	table, err := For(schema.GroupResource{Group: "apps", Resource: "replicasets"}).Convert(rs, now, Options{})
	if err != nil {
		t.Fatalf("Convert(ReplicaSet) error: %v", err)
	}
	s := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(s); err != nil {
		t.Fatal(err)
	}
	obj, _, err := serializer.NewCodecFactory(s).UniversalDeserializer().Decode(encodeTable(t, table), nil, nil)
	if err != nil {
		t.Fatalf("decoding Table: %v", err)
	}
	want := []any{"web-1", int64(3), int64(3), int64(2), "60m", "", "", "<none>"}
	if diff := cmp.Diff(want, obj.(*metav1.Table).Rows[0].Cells); diff != "" {
		t.Errorf("decoded ReplicaSet cells mismatch (-want +got):\n%s", diff)
	}
}
