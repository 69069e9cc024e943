package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/events"
)

// TestEventFilter: docker's filters: one key's values are alternatives,
// different keys must all match; IDs by prefix, names exactly; event= is
// the action before ": detail".
func TestEventFilter(t *testing.T) {
	start := events.Event{Type: "container", Action: "start", Actor: events.Actor{ID: "abcdef0123", Attributes: map[string]string{"name": "web", "image": "alpine", "tier": "x"}}}
	exec := events.Event{Type: "container", Action: "exec_start: sh -c ls", Actor: events.Actor{ID: "abcdef0123", Attributes: map[string]string{"name": "web"}}}
	vol := events.Event{Type: "volume", Action: "create", Actor: events.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	for _, c := range []struct {
		filters []string
		e       events.Event
		want    bool
	}{
		{nil, vol, true},
		{[]string{"container=web"}, start, true},
		{[]string{"container=abc"}, start, true},
		{[]string{"container=we"}, start, false},
		{[]string{"container=web"}, vol, false},
		{[]string{"event=stop", "event=start"}, start, true},
		{[]string{"event=start", "type=volume"}, start, false},
		{[]string{"event=exec_start"}, exec, true},
		{[]string{"image=alpine"}, start, true},
		{[]string{"label=tier"}, start, true},
		{[]string{"label=tier=y"}, start, false},
		{[]string{"volume=data"}, vol, true},
		{[]string{"network=data"}, vol, false},
	} {
		keep, err := eventFilter(c.filters)
		if err != nil {
			t.Fatal(err)
		}
		if got := keep(c.e); got != c.want {
			t.Errorf("%v on %s %s: %v, want %v", c.filters, c.e.Type, c.e.Action, got, c.want)
		}
	}
	if _, err := eventFilter([]string{"colour=red"}); err == nil {
		t.Error("an unknown filter was taken")
	}
}

// TestParseEventTime: RFC 3339, Unix timestamps with a fraction, and
// durations before now.
func TestParseEventTime(t *testing.T) {
	if got, err := parseEventTime("--since", "1700000000.5"); err != nil || !got.Equal(time.Unix(1700000000, 5e8)) {
		t.Errorf("timestamp: %v %v", got, err)
	}
	if got, err := parseEventTime("--since", "2024-01-02T03:04:05Z"); err != nil || got.Unix() != 1704164645 {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	if got, err := parseEventTime("--since", "10m"); err != nil || time.Since(got) < 10*time.Minute || time.Since(got) > 11*time.Minute {
		t.Errorf("duration: %v %v", got, err)
	}
	if _, err := parseEventTime("--until", "soon"); err == nil {
		t.Error("a bad time was taken")
	}
}

// TestEventLine: docker events' default line.
func TestEventLine(t *testing.T) {
	e := events.Event{Type: "container", Action: "die", TimeNano: time.Date(2026, 12, 4, 18, 0, 0, 5, time.UTC).UnixNano(),
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"name": "web", "exitCode": "0"}}}
	var b bytes.Buffer
	print, err := eventPrinter(&b, "")
	if err != nil || print(e) != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") + " container die abc (exitCode=0, name=web)\n"
	if got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}
