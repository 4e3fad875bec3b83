package registry

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// fieldOf returns the settable top-level field name of a pointer-to-struct object.
func fieldOf(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	return f, f.IsValid() && f.CanSet()
}
