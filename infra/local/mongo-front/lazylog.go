package main

import (
	"context"
	"log/slog"
)

// lazyHandler defers a handler's WithAttrs and WithGroup until a record is actually handled.
//
// FerretDB's SQL wrapper (internal/util/fsql) runs `l.With("args", args).DebugContext(...)`
// around every query; slog.TextHandler formats the attributes in WithAttrs, so with debug off
// each query still quoted its arguments (whole documents): about 5 % of the server's CPU.
// Records below the level never reach Handle, so their attributes are never formatted.
type lazyHandler struct {
	inner slog.Handler
	steps []func(slog.Handler) slog.Handler // WithAttrs/WithGroup calls, oldest first
}

func (h *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	inner := h.inner
	for _, step := range h.steps {
		inner = step(inner)
	}
	return inner.Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(inner slog.Handler) slog.Handler { return inner.WithAttrs(attrs) })
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.with(func(inner slog.Handler) slog.Handler { return inner.WithGroup(name) })
}

func (h *lazyHandler) with(step func(slog.Handler) slog.Handler) slog.Handler {
	steps := make([]func(slog.Handler) slog.Handler, len(h.steps), len(h.steps)+1)
	copy(steps, h.steps)
	return &lazyHandler{inner: h.inner, steps: append(steps, step)}
}
