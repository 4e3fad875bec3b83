package replicaset

import (
	"context"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

// ctx returns a context whose logger writes through t.
func ctx(t *testing.T) context.Context {
	_, c := ktesting.NewTestContext(t)
	return c
}
