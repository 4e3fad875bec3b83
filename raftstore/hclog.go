package raftstore

import (
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// raftLogger adapts a *slog.Logger to the hclog.Logger that hashicorp/raft and raft-wal log to.
type raftLogger struct {
	l    *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*raftLogger)(nil)

func newRaftLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return &raftLogger{l: l.With("component", "raft")}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (r *raftLogger) Log(level hclog.Level, msg string, args ...any) {
	r.l.Log(context.Background(), slogLevel(level), msg, args...)
}
func (r *raftLogger) Trace(msg string, args ...any) { r.Log(hclog.Trace, msg, args...) }
func (r *raftLogger) Debug(msg string, args ...any) { r.Log(hclog.Debug, msg, args...) }
func (r *raftLogger) Info(msg string, args ...any)  { r.Log(hclog.Info, msg, args...) }
func (r *raftLogger) Warn(msg string, args ...any)  { r.Log(hclog.Warn, msg, args...) }
func (r *raftLogger) Error(msg string, args ...any) { r.Log(hclog.Error, msg, args...) }
func (r *raftLogger) enabled(level hclog.Level) bool {
	return r.l.Enabled(context.Background(), slogLevel(level))
}
func (r *raftLogger) IsTrace() bool                    { return r.enabled(hclog.Trace) }
func (r *raftLogger) IsDebug() bool                    { return r.enabled(hclog.Debug) }
func (r *raftLogger) IsInfo() bool                     { return r.enabled(hclog.Info) }
func (r *raftLogger) IsWarn() bool                     { return r.enabled(hclog.Warn) }
func (r *raftLogger) IsError() bool                    { return r.enabled(hclog.Error) }
func (r *raftLogger) ImpliedArgs() []any               { return r.args }
func (r *raftLogger) Name() string                     { return r.name }
func (r *raftLogger) SetLevel(hclog.Level)             {}
func (r *raftLogger) GetLevel() hclog.Level            { return hclog.Info }
func (r *raftLogger) ResetNamed(n string) hclog.Logger { return r.Named(n) }
func (r *raftLogger) With(args ...any) hclog.Logger {
	return &raftLogger{l: r.l.With(args...), name: r.name, args: append(append([]any(nil), r.args...), args...)}
}
func (r *raftLogger) Named(n string) hclog.Logger {
	name := n
	if r.name != "" {
		name = r.name + "." + n
	}
	return &raftLogger{l: r.l.With("logger", name), name: name, args: r.args}
}
func (r *raftLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(r.l.Handler(), slog.LevelInfo)
}
func (r *raftLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return r.StandardLogger(opts).Writer()
}
