package tables

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The column descriptions come from the same API documentation the reference printers quote,
// including that of the older extensions/v1beta1 and apps/v1beta1 types.

// deploymentConvertor prints deployments: READY as ready/desired, UP-TO-DATE, AVAILABLE.
var deploymentConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "Number of the pod with ready state"),
		column("Up-to-date", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
		column("Available", "string", extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
		ageColumn(),
	}, append(templateColumns(),
		wideColumn("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	)...),
	row: cellsOf(func(d *appsv1.Deployment, now time.Time) []any {
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		return []any{
			d.Name,
			fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOr1(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas),
			int64(d.Status.AvailableReplicas),
			since(d.CreationTimestamp, now),
			names, images, selector,
		}
	}),
}

// replicaSetConvertor prints replicasets: DESIRED, CURRENT and READY pod counts.
var replicaSetConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
		column("Current", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
		column("Ready", "integer", extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn(),
	}, append(templateColumns(),
		wideColumn("Selector", "string", extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
	)...),
	row: cellsOf(func(rs *appsv1.ReplicaSet, now time.Time) []any {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []any{
			rs.Name,
			replicasOr1(rs.Spec.Replicas),
			int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas),
			since(rs.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
		}
	}),
}

// daemonSetConvertor prints daemonsets: scheduling counts and the pod template's node selector.
var daemonSetConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
		column("Current", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
		column("Ready", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
		column("Up-to-date", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
		column("Available", "integer", extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
		column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn(),
	}, append(templateColumns(),
		wideColumn("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	)...),
	row: cellsOf(func(ds *appsv1.DaemonSet, now time.Time) []any {
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		return []any{
			ds.Name,
			int64(ds.Status.DesiredNumberScheduled),
			int64(ds.Status.CurrentNumberScheduled),
			int64(ds.Status.NumberReady),
			int64(ds.Status.UpdatedNumberScheduled),
			int64(ds.Status.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
			since(ds.CreationTimestamp, now),
			names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
		}
	}),
}

// statefulSetConvertor prints statefulsets: READY as ready/desired.
var statefulSetConvertor = &Convertor{
	columns: append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "Number of the pod with ready state"),
		ageColumn(),
	}, templateColumns()...),
	row: cellsOf(func(ss *appsv1.StatefulSet, now time.Time) []any {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		return []any{
			ss.Name,
			fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicasOr1(ss.Spec.Replicas)),
			since(ss.CreationTimestamp, now),
			names, images,
		}
	}),
}

// controllerRevisionConvertor prints controllerrevisions with their controller and revision number.
var controllerRevisionConvertor = &Convertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Controller", "string", "Controller of the object"),
		column("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn(),
	},
	row: cellsOf(func(cr *appsv1.ControllerRevision, now time.Time) []any {
		return []any{cr.Name, controllerName(cr), cr.Revision, since(cr.CreationTimestamp, now)}
	}),
}

// controllerName renders the controller owner of obj as "<kind>.<group>/<name>" in lower case
// (for example "statefulset.apps/web"), or "<none>".
func controllerName(obj metav1.Object) string {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return none
	}
	gk := schema.GroupKind{Kind: ref.Kind}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
		gk.Group = gv.Group
	}
	if gk.Empty() {
		return ref.Name
	}
	return strings.ToLower(gk.String()) + "/" + ref.Name
}
