package tables

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the reference time of every conversion in the tests.
var now = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// ago returns the metav1.Time d before now.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

// agoPtr returns a pointer to ago(d).
func agoPtr(d time.Duration) *metav1.Time {
	t := ago(d)
	return &t
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// objMeta returns object metadata with the given name, created an hour before now.
func objMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(time.Hour)}
}

// convertSingle converts obj, a single object of resource gr, and checks that
// the table has one row with a cell for each column.
func convertSingle(t *testing.T, gr schema.GroupResource, obj runtime.Object) *metav1.Table {
	t.Helper()
	table, err := For(gr).Convert(obj, now, Options{})
	if err != nil {
		t.Fatalf("For(%v).Convert(%T) error: %v", gr, obj, err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("For(%v).Convert(%T) has %d rows; want 1", gr, obj, len(table.Rows))
	}
	if got, want := len(table.Rows[0].Cells), len(table.ColumnDefinitions); got != want {
		t.Fatalf("For(%v).Convert(%T) row has %d cells for %d columns", gr, obj, got, want)
	}
	return table
}

// convertOne converts a single object of resource gr and returns its only row.
func convertOne(t *testing.T, gr schema.GroupResource, obj runtime.Object) metav1.TableRow {
	t.Helper()
	return convertSingle(t, gr, obj).Rows[0]
}

// cellsByName converts obj and returns its cells keyed by column name.
func cellsByName(t *testing.T, gr schema.GroupResource, obj runtime.Object) map[string]any {
	t.Helper()
	table := convertSingle(t, gr, obj)
	out := make(map[string]any, len(table.ColumnDefinitions))
	for i, c := range table.ColumnDefinitions {
		out[c.Name] = table.Rows[0].Cells[i]
	}
	return out
}

// checkCells compares the named cells of obj's row with want and reports the differences.
func checkCells(t *testing.T, gr schema.GroupResource, obj runtime.Object, want map[string]any) {
	t.Helper()
	all := cellsByName(t, gr, obj)
	got := make(map[string]any, len(want))
	for name := range want {
		v, ok := all[name]
		if !ok {
			t.Fatalf("For(%v) has no column %q", gr, name)
		}
		got[name] = v
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("For(%v).Convert(%s) cells mismatch (-want +got):\n%s", gr, objectName(obj), diff)
	}
}

// objectName returns obj's name for failure messages.
func objectName(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetName()
	}
	return "?"
}
