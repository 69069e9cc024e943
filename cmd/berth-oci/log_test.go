package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"testing"
)

func TestLogrusHandlerFormats(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(newLogrusHandler(&b, "text", slog.LevelDebug))
	l.Debug("child process in init()", "pid", 42, "path", "/a b")
	l.Warn("careful")
	want := regexp.MustCompile(`^time="[0-9T:.-]+Z" level=debug msg="child process in init\(\)" pid=42 path="/a b"
time="[^"]+" level=warning msg=careful
$`)
	if !want.Match(b.Bytes()) {
		t.Errorf("text:\n%s", b.String())
	}

	b.Reset()
	l = slog.New(newLogrusHandler(&b, "json", slog.LevelWarn))
	l.Debug("hidden")
	l.Error("it failed", "id", "c1")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["level"] != "error" || m["msg"] != "it failed" || m["id"] != "c1" || m["time"] == nil {
		t.Errorf("json: %v %s", err, b.String())
	}
	if !bytes.HasPrefix(b.Bytes(), []byte(`{"id":"c1","level":"error","msg":"it failed","time":`)) {
		t.Errorf("json keys not in logrus's (sorted) order: %s", b.String())
	}
}
