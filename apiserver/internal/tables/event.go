package tables

import (
	"cmp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventColumns are the columns of events in both API groups. Their order (Message between the
// wide Source and First Seen) is the reference apiserver's.
var eventColumns = []metav1.TableColumnDefinition{
	column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"]),
	column("Type", "string", corev1.Event{}.SwaggerDoc()["type"]),
	column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"]),
	column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"]),
	wideColumn("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]),
	wideColumn("Source", "string", corev1.Event{}.SwaggerDoc()["source"]),
	column("Message", "string", corev1.Event{}.SwaggerDoc()["message"]),
	wideColumn("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"]),
	wideColumn("Count", "string", corev1.Event{}.SwaggerDoc()["count"]),
	{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: objectMetaDoc["name"]},
}

// eventConvertor prints core/v1 events.
var eventConvertor = &Convertor{
	columns: eventColumns,
	row:     cellsOf(eventCells),
}

// eventsAPIConvertor prints events.k8s.io/v1 Events, which share storage and columns with core
// events in Kubernetes.
var eventsAPIConvertor = &Convertor{
	columns: eventColumns,
	row: cellsOf(func(ev *eventsv1.Event, now time.Time) []any {
		return eventCells(coreEvent(ev), now)
	}),
}

// eventCells renders the row of a core/v1 event. LAST SEEN falls back to the first time and, for
// event series, is the last observation; COUNT of a singleton new-style event is 1.
func eventCells(ev *corev1.Event, now time.Time) []any {
	first := since(ev.FirstTimestamp, now)
	if ev.FirstTimestamp.IsZero() {
		first = sinceMicro(ev.EventTime, now)
	}
	last := since(ev.LastTimestamp, now)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	if ev.Series != nil {
		last = sinceMicro(ev.Series.LastObservedTime, now)
		count = ev.Series.Count
	} else if count == 0 {
		count = 1 // events.k8s.io singletons leave count unset
	}

	object := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		object += "/" + ev.InvolvedObject.Name
	}

	return []any{
		last,
		ev.Type,
		ev.Reason,
		object,
		ev.InvolvedObject.FieldPath,
		eventSource(ev),
		strings.TrimSpace(ev.Message),
		first,
		int64(count),
		ev.Name,
	}
}

// eventSource renders the reporting component and, when known, its host or instance as
// "kubelet, node-1".
func eventSource(ev *corev1.Event) string {
	component := cmp.Or(ev.Source.Component, ev.ReportingController)
	instance := cmp.Or(ev.Source.Host, ev.ReportingInstance)
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

// coreEvent maps the fields of an events.k8s.io/v1 Event that the columns show onto a core/v1
// Event, as the apiserver's conversion does.
func coreEvent(ev *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          ev.ObjectMeta,
		InvolvedObject:      ev.Regarding,
		Reason:              ev.Reason,
		Message:             ev.Note,
		Source:              ev.DeprecatedSource,
		FirstTimestamp:      ev.DeprecatedFirstTimestamp,
		LastTimestamp:       ev.DeprecatedLastTimestamp,
		Count:               ev.DeprecatedCount,
		Type:                ev.Type,
		EventTime:           ev.EventTime,
		ReportingController: ev.ReportingController,
		ReportingInstance:   ev.ReportingInstance,
	}
	if ev.Series != nil {
		out.Series = &corev1.EventSeries{Count: ev.Series.Count, LastObservedTime: ev.Series.LastObservedTime}
	}
	return out
}
