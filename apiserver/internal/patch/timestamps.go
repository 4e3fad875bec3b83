package patch

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KeepUnchangedTimestamps reverts the managedFields timestamps of obj to those of old when
// obj equals old in everything else, and reports whether it did. The field manager stamps the
// entry of every manager that wrote, so a write that changes nothing (re-applying the same
// configuration, a replace with the stored object) would otherwise differ from the stored
// object by its timestamps alone and get a new resourceVersion and a MODIFIED watch event.
//
// The reference apiserver does this in its registry after the update strategy ran and before
// validation (IgnoreManagedFieldsTimestampsTransformer); callers should call it at the same
// point, and may then skip the write when obj equals old.
func KeepUnchangedTimestamps(obj, old runtime.Object) bool {
	if isNil(obj) || isNil(old) {
		return false
	}
	newAccessor, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	oldAccessor, err := meta.Accessor(old)
	if err != nil {
		return false
	}
	newFields, oldFields := newAccessor.GetManagedFields(), oldAccessor.GetManagedFields()
	if len(newFields) == 0 || len(newFields) != len(oldFields) {
		return false
	}
	changed := false
	for i := range newFields {
		if !newFields[i].Time.Equal(oldFields[i].Time) {
			changed = true
		}
		a, b := newFields[i], oldFields[i]
		a.Time, b.Time = nil, nil
		if !reflect.DeepEqual(a, b) {
			return false
		}
	}
	if !changed {
		return false
	}
	// Compare the rest of the objects on copies, ignoring managedFields and apiVersion and kind
	// (which stored objects may lack).
	a, b := obj.DeepCopyObject(), old.DeepCopyObject()
	a.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	b.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	aAccessor, _ := meta.Accessor(a)
	bAccessor, _ := meta.Accessor(b)
	aAccessor.SetManagedFields(nil)
	bAccessor.SetManagedFields(nil)
	if !equality.Semantic.DeepEqual(a, b) {
		return false
	}
	for i := range newFields {
		newFields[i].Time = oldFields[i].Time
	}
	newAccessor.SetManagedFields(newFields)
	return true
}
