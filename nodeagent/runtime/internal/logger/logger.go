package logger

import (
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/capstan-io/capstan/nodeagent/runtime/internal/crilog"
)

// Argument keys of the logger's command line. The shim passes them as "key value" pairs in an
// unspecified order.
const (
	pathArg    = "capstan-log-path"
	maxSizeArg = "capstan-log-max-size"
)

// Args returns the cio.BinaryIO arguments that make the logger write to path, rotating it at
// maxSize bytes (no rotation when maxSize <= 0).
func Args(path string, maxSize int64) map[string]string {
	return map[string]string{pathArg: path, maxSizeArg: strconv.FormatInt(maxSize, 10)}
}

func init() {
	if os.Getenv("CONTAINER_ID") == "" || os.Getenv("CONTAINER_NAMESPACE") == "" {
		return
	}
	args, ok := parseArgs(os.Args[1:])
	if !ok {
		return
	}
	os.Exit(run(args))
}

// parseArgs reads "key value" pairs and reports whether they are a logger command line.
func parseArgs(argv []string) (map[string]string, bool) {
	if len(argv)%2 != 0 {
		return nil, false
	}
	args := make(map[string]string, len(argv)/2)
	for i := 0; i < len(argv); i += 2 {
		args[argv[i]] = argv[i+1]
	}
	_, ok := args[pathArg]
	return args, ok
}

// run copies fd 3 and fd 4 into the log file and returns the exit status.
func run(args map[string]string) int {
	stdout := os.NewFile(3, "stdout")
	stderr := os.NewFile(4, "stderr")
	ready := os.NewFile(5, "ready")
	maxSize, _ := strconv.ParseInt(args[maxSizeArg], 10, 64)

	w, err := crilog.OpenWriter(args[pathArg], maxSize)
	// Signal readiness only once the file is open and locked, so that a follower that sees the
	// container running also sees the lock. On error, still signal and drain the streams so the
	// container does not die of SIGPIPE.
	ready.Close()
	var wg sync.WaitGroup
	for _, s := range []struct {
		f      *os.File
		stream crilog.Stream
	}{{stdout, crilog.Stdout}, {stderr, crilog.Stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err != nil || w.CopyFrom(s.stream, s.f) != nil {
				io.Copy(io.Discard, s.f)
			}
		}()
	}
	wg.Wait()
	if err != nil {
		return 1
	}
	if err := w.Close(); err != nil {
		return 1
	}
	return 0
}
