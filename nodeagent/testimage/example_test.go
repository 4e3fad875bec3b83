package testimage_test

import (
	"context"
	"log"

	"github.com/capstan-io/capstan/nodeagent/runtime/runtimetest"
	"github.com/capstan-io/capstan/nodeagent/testimage"
)

// ExampleImport loads the default busybox image into a runtime (a fake one here; a
// runtime.Containerd in integration tests).
func ExampleImport() {
	names, err := testimage.Import(context.Background(), runtimetest.NewFake(), testimage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(names) // [capstan.local/busybox:1.35]
}
