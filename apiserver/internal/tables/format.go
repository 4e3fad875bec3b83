package tables

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Placeholders the reference printers put in cells without a value.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
	pending = "<pending>"
)

// objectMetaDoc holds the API documentation of ObjectMeta's fields, used as column descriptions.
var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

// Descriptions of the columns that several workload resources share.
const (
	containersDoc = "Names of each container in the template."
	imagesDoc     = "Images referenced by each container in the template."
)

// column returns a default (priority 0) column definition.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wideColumn returns a column definition that kubectl shows only with `-o wide` (priority 1).
func wideColumn(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: description}
}

// nameColumn returns the Name column; the "name" format lets kubectl prefix names with the kind.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
}

// ageColumn returns the Age column, the object's age relative to the conversion time.
func ageColumn() metav1.TableColumnDefinition {
	return column("Age", "string", objectMetaDoc["creationTimestamp"])
}

// templateColumns returns the wide Containers and Images columns of workload resources.
func templateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		wideColumn("Containers", "string", containersDoc),
		wideColumn("Images", "string", imagesDoc),
	}
}

// since renders the time elapsed from t to now the way kubectl shows ages ("5m", "3h12m", "2d"),
// or "<unknown>" for a zero time.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// sinceMicro is since for a MicroTime.
func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells joins the names and the images of containers with commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// boolCell renders an optional boolean as "True", "False" or "<unset>".
func boolCell(b *bool) string {
	switch {
	case b == nil:
		return unset
	case *b:
		return "True"
	default:
		return "False"
	}
}

// replicasOr1 returns *p, or 1 (the API default that the apiserver applies) when p is nil.
func replicasOr1(p *int32) int64 {
	if p == nil {
		return 1
	}
	return int64(*p)
}

// shortList collects the items of a cell that shows only the first few of them, followed by
// " + N more..." for the rest (the Endpoints and EndpointSlice columns).
type shortList struct {
	limit int
	items []string
	total int
}

// add counts item and keeps it if the list has room.
func (l *shortList) add(item string) {
	l.total++
	if len(l.items) < l.limit {
		l.items = append(l.items, item)
	}
}

// String joins the kept items with commas and appends how many were left out.
func (l *shortList) String() string {
	s := strings.Join(l.items, ",")
	if more := l.total - len(l.items); more > 0 {
		s += " + " + strconv.Itoa(more) + " more..."
	}
	return s
}
