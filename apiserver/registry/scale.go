package registry

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capstan-io/capstan/apiserver/internal/patch"
)

// ScaleGVK is the kind of the scale subresource.
var ScaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// replicasOf reads spec.replicas, status.replicas and spec.selector of a scalable object.
func replicasOf(obj runtime.Object) (spec int32, status int32, selector string, err error) {
	specV, ok := fieldOf(obj, "Spec")
	statusV, ok2 := fieldOf(obj, "Status")
	if !ok || !ok2 {
		return 0, 0, "", fmt.Errorf("registry: %T has no spec and status", obj)
	}
	if r := specV.FieldByName("Replicas"); r.IsValid() && r.Kind() == reflect.Pointer && !r.IsNil() {
		spec = int32(r.Elem().Int())
	} else {
		spec = 1
	}
	if r := statusV.FieldByName("Replicas"); r.IsValid() && r.Kind() == reflect.Int32 {
		status = int32(r.Int())
	}
	if sel, ok := specV.FieldByName("Selector").Interface().(*metav1.LabelSelector); ok && sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return 0, 0, "", err
		}
		selector = s.String()
	}
	return spec, status, selector, nil
}

func setReplicas(obj runtime.Object, n int32) {
	specV, _ := fieldOf(obj, "Spec")
	r := specV.FieldByName("Replicas")
	r.Set(reflect.ValueOf(&n))
}

func (s *Store) toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	spec, status, selector, err := replicasOf(obj)
	if err != nil {
		return nil, err
	}
	m, _ := meta.Accessor(obj)
	mf, err := patch.ScaleManagedFields(m.GetManagedFields(), s.gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(), ManagedFields: mf,
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}, nil
}

func (s *Store) checkScalable() error {
	if !s.res.Strategy.Scale {
		return apierrors.NewNotFound(schema.GroupResource{Group: s.gr.Group, Resource: s.gr.Resource + "/scale"}, "")
	}
	return nil
}

// GetScale returns the scale subresource of an object.
func (s *Store) GetScale(ctx context.Context, ns, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error) {
	if err := s.checkScalable(); err != nil {
		return nil, err
	}
	obj, err := s.Get(ctx, ns, name, opts)
	if err != nil {
		return nil, err
	}
	return s.toScale(obj)
}

// UpdateScale sets spec.replicas from a Scale (PUT), honouring its resourceVersion.
func (s *Store) UpdateScale(ctx context.Context, ns, name string, scale *autoscalingv1.Scale, opts WriteOptions) (*autoscalingv1.Scale, error) {
	if scale.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", scale.Name, name))
	}
	return s.scaleWrite(ctx, ns, name, opts, func(live *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		next := scale.DeepCopy()
		if next.ResourceVersion != "" && next.ResourceVersion != live.ResourceVersion {
			return nil, s.conflict(name)
		}
		next.ResourceVersion = live.ResourceVersion
		obj, err := s.reg.patcher.Update(live, next, ScaleGVK, patch.Options{FieldManager: opts.FieldManager, Subresource: "scale"})
		if err != nil {
			return nil, err
		}
		return obj.(*autoscalingv1.Scale), nil
	})
}

// PatchScale patches the scale subresource.
func (s *Store) PatchScale(ctx context.Context, ns, name string, pt types.PatchType, data []byte, opts WriteOptions) (*autoscalingv1.Scale, error) {
	return s.scaleWrite(ctx, ns, name, opts, func(live *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		res, err := s.reg.patcher.Patch(live, ScaleGVK, pt, data, patch.Options{
			FieldManager: opts.FieldManager, FieldValidation: opts.FieldValidation, Subresource: "scale",
			Force: opts.Force, Resource: s.gr, Name: name, Namespace: ns,
		})
		if err != nil {
			return nil, err
		}
		next := res.Object.(*autoscalingv1.Scale)
		if next.ResourceVersion != live.ResourceVersion {
			return nil, s.conflict(name)
		}
		return next, nil
	})
}

// scaleWrite applies fn to the object's Scale and writes the resulting replicas.
func (s *Store) scaleWrite(ctx context.Context, ns, name string, opts WriteOptions, fn func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error)) (*autoscalingv1.Scale, error) {
	if err := s.checkScalable(); err != nil {
		return nil, err
	}
	out, _, err := s.guaranteedUpdate(ctx, ns, name, WriteOptions{DryRun: opts.DryRun, Fence: opts.Fence, Admit: opts.Admit, Subresource: subresourceRaw}, func(live runtime.Object) (runtime.Object, error) {
		if live == nil {
			return nil, apierrors.NewNotFound(s.gr, name)
		}
		cur, err := s.toScale(live)
		if err != nil {
			return nil, err
		}
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		if next.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(ScaleGVK.GroupKind(), name, fieldInvalid("spec.replicas", next.Spec.Replicas, "must be greater than or equal to 0"))
		}
		setReplicas(live, next.Spec.Replicas)
		m, _ := meta.Accessor(live)
		mf, err := patch.ParentManagedFields(m.GetManagedFields(), next.ManagedFields, s.gvk.GroupVersion())
		if err != nil {
			return nil, err
		}
		m.SetManagedFields(mf)
		return live, nil
	})
	if err != nil {
		return nil, err
	}
	sc, err := s.toScale(out)
	if err != nil {
		return nil, err
	}
	if rv, err := strconv.ParseUint(sc.ResourceVersion, 10, 64); err == nil && rv == 0 {
		sc.ResourceVersion = ""
	}
	return sc, nil
}
