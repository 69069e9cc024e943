package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// logrusHandler is a slog.Handler that writes lines as runc's logrus
// does, text (time="..." level=debug msg="...") or JSON ({"level":...,
// "msg":...,"time":...}). runc compat: containerd's shim and podman read
// runc's --log back in these formats, and runc's debug.bats matches
// level=debug.
type logrusHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	json  bool
	level slog.Level
	attrs []slog.Attr
}

func newLogrusHandler(w io.Writer, format string, level slog.Level) *logrusHandler {
	return &logrusHandler{mu: &sync.Mutex{}, w: w, json: format == "json", level: level}
}

func (h *logrusHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logrusHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

// WithGroup is not used by berth-oci; grouped keys stay flat.
func (h *logrusHandler) WithGroup(string) slog.Handler { return h }

func (h *logrusHandler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	now := t.UTC().Format(time.RFC3339Nano)
	level := logrusLevel(r.Level)
	var line []byte
	if h.json {
		// logrus's JSON: one object, keys in order (encoding/json sorts).
		m := map[string]any{"level": level, "msg": r.Message, "time": now}
		add := func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true }
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		line = append(b, '\n')
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "time=%q level=%s msg=%s", now, level, logrusQuote(r.Message))
		add := func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%s", a.Key, logrusQuote(a.Value.String()))
			return true
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		b.WriteByte('\n')
		line = []byte(b.String())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(line)
	return err
}

// logrusLevel names a level as logrus does.
func logrusLevel(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	}
	return "error"
}

// logrusQuote quotes a value as logrus's text formatter does: bare when
// it is a plain word, else a Go quoted string.
func logrusQuote(s string) string {
	if s == "" {
		return `""`
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._/@^+", c)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// setupLogging makes slog's default logger write runc's format to --log,
// or to stderr without it, at debug level with --debug. The library's
// debug lines (internal/container's start steps) then reach the engine.
func setupLogging(g *globals) {
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	var w io.Writer = os.Stderr
	if g.log != "" {
		f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_SYNC, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "berth-oci: warning: --log %s: %v; logging to stderr\n", g.log, err)
		} else {
			// Left open until exit: the process is short-lived.
			w = f
		}
	}
	g.logger = slog.New(newLogrusHandler(w, g.logFormat, level))
	slog.SetDefault(g.logger)
}

// warn logs what did not fail the command (a failing poststart or
// poststop hook, a --systemd-cgroup that falls back), as runc does: to
// the --log file, where the engine reads it, or without one to stderr in
// the same format; never as free text among the engine's output.
func warn(g *globals, msg string) { loggerOf(g).Warn(msg) }

// loggerOf is the logger, set up now if the command line failed before
// the commands' setup ran.
func loggerOf(g *globals) *slog.Logger {
	if g.logger == nil {
		setupLogging(g)
	}
	return g.logger
}
