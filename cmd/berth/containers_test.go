package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/spec"
)

// TestPsFormat: ps --format takes docker's forms: "table TEMPLATE" prints
// a header of the placeholders' column names and \t is a tab (columns
// aligned); "json" is one object per line; the default is docker's table.
func TestPsFormat(t *testing.T) {
	recs := []managed.Record{
		{ID: "0123456789abcdef", Name: "web", Image: "nginx", Created: time.Now().Add(-time.Hour),
			State: managed.State{Status: managed.Exited, ExitCode: 3, FinishedAt: time.Now().Add(-time.Minute)}},
		{ID: "fedcba9876543210", Name: "a-long-name", Image: "alpine", Created: time.Now(),
			State: managed.State{Status: managed.Created}},
	}
	var b bytes.Buffer
	if err := printContainers(&b, recs, psOptions{format: `table {{.Names}}\t{{.Status}}`}, nil); err != nil {
		t.Fatal(err)
	}
	want := "NAMES         STATUS\nweb           Exited (3) About a minute ago\na-long-name   Created\n"
	if b.String() != want && !regexp.MustCompile(`^NAMES +STATUS\nweb +Exited \(3\) [^\n]+ ago\na-long-name   Created\n$`).MatchString(b.String()) {
		t.Errorf("table:\n%s", b.String())
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{format: `table {{.ID}}\t{{.Image}}\t{{.State}}`}, nil); err != nil ||
		!strings.HasPrefix(b.String(), "CONTAINER ID   IMAGE     STATE\n0123456789ab   nginx     exited\n") {
		t.Errorf("table with ID: %v\n%s", err, b.String())
	}
	for _, format := range []string{"", "table"} {
		b.Reset()
		if err := printContainers(&b, recs, psOptions{format: format}, nil); err != nil ||
			!regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n0123456789ab +nginx +`).MatchString(b.String()) {
			t.Errorf("format %q: %v\n%s", format, err, b.String())
		}
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{format: "json"}, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	var row map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &row) != nil || row["Names"] != "web" || row["ID"] != "0123456789ab" || row["State"] != "exited" {
		t.Errorf("json:\n%s", b.String())
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{format: `{{.Names}} {{.Status}}`}, nil); err != nil || !strings.HasPrefix(b.String(), "web Exited (3)") {
		t.Errorf("template: %v %q", err, b.String())
	}
}

// TestPsOptions: ps's default columns are docker's; -s adds SIZE as
// "writable (virtual TOTAL)"; --no-trunc prints whole IDs and commands;
// json has docker's keys.
func TestPsOptions(t *testing.T) {
	long := strings.Repeat("x", 30)
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	recs := []managed.Record{{ID: id, Name: "web", Image: "nginx", Created: time.Now(),
		Config: &managed.Config{Cmd: []string{"echo", long}, Labels: map[string]string{"b": "2", "a": "1"}, NetworkMode: "bridge"},
		State:  managed.State{Status: managed.Created}}}
	sizes := func(managed.Record) (int64, int64) { return 1500, 8_000_000 }
	var b bytes.Buffer
	if err := printContainers(&b, recs, psOptions{size: true}, sizes); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +SIZE$`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "0123456789ab ") || !strings.Contains(lines[1], `"echo xxxxxxxxxxxxxx…"`) ||
		!strings.HasSuffix(lines[1], "1.5kB (virtual 8MB)") {
		t.Errorf("ps -s:\n%s", b.String())
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{noTrunc: true, format: "{{.ID}} {{.Command}}"}, sizes); err != nil ||
		b.String() != id+` "echo `+long+`"`+"\n" {
		t.Errorf("ps --no-trunc: %q %v", b.String(), err)
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{quiet: true, noTrunc: true}, sizes); err != nil || b.String() != id+"\n" {
		t.Errorf("ps -q --no-trunc: %q", b.String())
	}
	b.Reset()
	if err := printContainers(&b, recs, psOptions{format: "json"}, nil); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"} {
		if _, ok := m[k]; !ok {
			t.Errorf("ps --format json lacks %s: %s", k, b.String())
		}
	}
	if m["Labels"] != "a=1,b=2" || m["Networks"] != "bridge" {
		t.Errorf("ps json: %s", b.String())
	}
}

// TestPsMoreFilters: exited=, volume=, network= (before= and since= come
// resolved to a creation time).
func TestPsMoreFilters(t *testing.T) {
	rec := managed.Record{Created: time.Unix(100, 0), State: managed.State{Status: managed.Exited, ExitCode: 2},
		Config: &managed.Config{NetworkMode: "front", Networks: []managed.NetworkConnection{{Name: "back"}},
			Mounts: []spec.MountRequest{{Type: "volume", Source: "data", Destination: "/data"}}}}
	for f, want := range map[string]bool{"exited=2": true, "exited=0": false, "volume=data": true, "volume=/data": true, "volume=x": false,
		"network=front": true, "network=back": true, "network=bridge": false,
		"before=100000000001": true, "before=100000000000": false, "since=99999999999": true, "since=100000000000": false} {
		if got := matches(rec, []string{f}); got != want {
			t.Errorf("%s: %v, want %v", f, got, want)
		}
	}
}
