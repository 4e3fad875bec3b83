// Package logger is the container logger that containerd shims start for Capstan containers.
//
// The runtime creates each task with cio.BinaryIO pointing at the agent's own executable and the
// arguments from Args. The shim then runs that executable with the container's stdout on fd 3, its
// stderr on fd 4 and a ready pipe on fd 5, with only CONTAINER_ID and CONTAINER_NAMESPACE in the
// environment. This package's init function recognises such a start and runs the logger instead
// of the program, writing CRI-format records with crilog until both streams are closed, then exits.
//
// Why an init function: Go initialises packages in import-path order among those whose imports are
// ready, so this package (github.com/capstan-io/...), which imports only the standard library and
// crilog, runs before the heavy packages of the agent binary (containerd, k8s.io, grpc, ...). A
// logger started this way costs about 1 MB of private memory and 10 ms, against about 50 MB and
// 50 ms after a full initialisation. Keep the imports of this package and of crilog to the
// standard library.
//
// The logger is a child of the shim, not of the agent: logging continues while the agent is
// stopped or restarted.
package logger
