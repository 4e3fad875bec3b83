package firewall

import (
	"context"
	"errors"
	"testing"
)

func TestNewRefusesTheHostNamespace(t *testing.T) {
	if PrivateNamespace() {
		t.Skip("this test runs in a private network namespace already")
	}
	if _, err := New(context.Background(), "capstan_chaos_test"); !errors.Is(err, ErrHostNamespace) {
		t.Errorf("New(host namespace) = %v; want %v", err, ErrHostNamespace)
	}
}
