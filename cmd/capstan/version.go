package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// Version is Capstan's version; the API it serves reports Kubernetes v1.32.
var Version = "0.1.0-dev"

func versionCommand() *command {
	return &command{name: "version", summary: "print the version", run: func(_ context.Context, args []string, out io.Writer) error {
		if err := noArgs(args); err != nil {
			return err
		}
		fmt.Fprintf(out, "capstan %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}}
}
