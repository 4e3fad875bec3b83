package apiserver

import (
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capstan-io/capstan/apiserver/internal/validation"
	"github.com/capstan-io/capstan/apiserver/registry"
)

// serveSubresource dispatches /<resource>/<name>/<subresource> requests.
func (q *request) serveSubresource() {
	sub, ok := findSubresource(q.res, q.info.subresource)
	if !ok || q.info.name == "" {
		writeError(q.w, apierrors.NewNotFound(schema.GroupResource{Group: q.res.Group, Resource: q.res.Resource + "/" + q.info.subresource}, q.info.name))
		return
	}
	verb := q.info.verb
	if verb == "list" || verb == "watch" {
		verb = "get"
	}
	allowed := false
	for _, v := range sub.verbs {
		allowed = allowed || v == verb
	}
	if !allowed {
		writeError(q.w, errMethodNotAllowed(q.r.Method, q.res.Resource+"/"+sub.name))
		return
	}
	var err error
	switch sub.name {
	case "status":
		err = q.status(verb)
	case "scale":
		err = q.scale(verb)
	case "binding":
		err = q.binding()
	case "eviction":
		err = q.eviction()
	case "finalize":
		err = q.finalize()
	default:
		err = q.s.proxyToNode(q, sub.name)
	}
	if err != nil {
		writeError(q.w, err)
	}
}

func (q *request) status(verb string) error {
	switch verb {
	case "get":
		return q.get()
	case "update":
		return q.update("status")
	}
	return q.patch("status")
}

func (q *request) scale(verb string) error {
	ctx := q.r.Context()
	switch verb {
	case "get":
		var opts metav1.GetOptions
		if err := decodeParameters(q.query, &opts); err != nil {
			return err
		}
		sc, err := q.store.GetScale(ctx, q.info.namespace, q.info.name, opts)
		if err != nil {
			return err
		}
		writeObject(q.w, http.StatusOK, output{media: mediaJSON}, sc, autoscalingv1.SchemeGroupVersion)
		return nil
	case "update":
		opts, obj, err := q.readWrite("scale", autoscalingv1.SchemeGroupVersion.WithKind("Scale"))
		if err != nil {
			return err
		}
		sc, err := q.store.UpdateScale(ctx, q.info.namespace, q.info.name, obj.(*autoscalingv1.Scale), opts)
		if err != nil {
			return err
		}
		writeObject(q.w, http.StatusOK, output{media: mediaJSON}, sc, autoscalingv1.SchemeGroupVersion)
		return nil
	}
	pt, err := q.patchType()
	if err != nil {
		return err
	}
	opts, err := q.writeOptions("scale")
	if err != nil {
		return err
	}
	if pt != "application/apply-patch+yaml" {
		q.defaultManager(&opts)
	}
	data, err := q.body()
	if err != nil {
		return err
	}
	sc, err := q.store.PatchScale(ctx, q.info.namespace, q.info.name, pt, data, opts)
	if err != nil {
		return err
	}
	writeObject(q.w, http.StatusOK, output{media: mediaJSON}, sc, autoscalingv1.SchemeGroupVersion)
	return nil
}

// decodeSubresourceBody decodes the body of a POST to a subresource and checks its name.
func (q *request) decodeSubresourceBody(gvk schema.GroupVersionKind) (runtime.Object, error) {
	data, err := q.body()
	if err != nil {
		return nil, err
	}
	decoded, err := decodeBody(q.r, data, gvk, q.query.Get("fieldValidation"))
	if err != nil {
		return nil, err
	}
	if errs := validation.Create(decoded.obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gvk.GroupKind(), q.info.name, errs)
	}
	return decoded.obj, nil
}

func success(w http.ResponseWriter, code int) {
	writeObject(w, code, output{media: mediaJSON}, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: int32(code)}, schema.GroupVersion{Version: "v1"})
}

// binding assigns a pod to a node, once.
func (q *request) binding() error {
	obj, err := q.decodeSubresourceBody(corev1.SchemeGroupVersion.WithKind("Binding"))
	if err != nil {
		return err
	}
	b := obj.(*corev1.Binding)
	if b.Name != q.info.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the pod on the URL (%s)", b.Name, q.info.name))
	}
	opts, err := q.writeOptions("")
	if err != nil {
		return err
	}
	_, err = q.store.Mutate(q.r.Context(), q.info.namespace, q.info.name, opts, func(o runtime.Object) error {
		return bindPod(o.(*corev1.Pod), b)
	})
	if err != nil {
		return err
	}
	success(q.w, http.StatusCreated)
	return nil
}

// bindPod sets a pod's node from a binding, refusing to move a bound or deleted pod.
func bindPod(pod *corev1.Pod, b *corev1.Binding) error {
	gr := schema.GroupResource{Resource: "pods"}
	if b.UID != "" && b.UID != pod.UID {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("binding is for pod UID %s, not %s", b.UID, pod.UID))
	}
	if pod.DeletionTimestamp != nil {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
	}
	if pod.Spec.NodeName != "" {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name, nil)
	}
	pod.Spec.NodeName = b.Target.Name
	for k, v := range b.Annotations {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	setPodScheduled(pod)
	return nil
}

func setPodScheduled(pod *corev1.Pod) {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			if c.Status != corev1.ConditionTrue {
				pod.Status.Conditions[i] = corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
}

// eviction deletes a pod on behalf of an Eviction. Capstan serves no PodDisruptionBudgets, so
// no budget can refuse it.
func (q *request) eviction() error {
	obj, err := q.decodeSubresourceBody(policyv1.SchemeGroupVersion.WithKind("Eviction"))
	if err != nil {
		return err
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != q.info.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the eviction (%s) does not match the pod on the URL (%s)", ev.Name, q.info.name))
	}
	var opts metav1.DeleteOptions
	if ev.DeleteOptions != nil {
		opts = *ev.DeleteOptions
	}
	dryRun := len(opts.DryRun) > 0
	fence, err := q.fence()
	if err != nil {
		return err
	}
	if _, _, err := q.store.Delete(q.r.Context(), q.info.namespace, q.info.name, opts, registry.WriteOptions{DryRun: dryRun, Admit: q.admit, Fence: fence}); err != nil {
		return err
	}
	success(q.w, http.StatusCreated)
	return nil
}

// finalize replaces a namespace's spec.finalizers; the namespace goes away once it is being
// deleted and none remain.
func (q *request) finalize() error {
	data, err := q.body()
	if err != nil {
		return err
	}
	decoded, err := decodeBody(q.r, data, corev1.SchemeGroupVersion.WithKind("Namespace"), q.query.Get("fieldValidation"))
	if err != nil {
		return err
	}
	want := decoded.obj.(*corev1.Namespace)
	if want.Name != q.info.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the namespace (%s) does not match the name on the URL (%s)", want.Name, q.info.name))
	}
	opts, err := q.writeOptions("")
	if err != nil {
		return err
	}
	out, err := q.store.Mutate(q.r.Context(), "", q.info.name, opts, func(o runtime.Object) error {
		ns := o.(*corev1.Namespace)
		if want.ResourceVersion != "" && want.ResourceVersion != ns.ResourceVersion {
			return apierrors.NewConflict(schema.GroupResource{Resource: "namespaces"}, ns.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		ns.Spec.Finalizers = want.Spec.Finalizers
		return nil
	})
	if err != nil {
		return err
	}
	return q.respond(http.StatusOK, out)
}
