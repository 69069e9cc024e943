package render_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/events"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/render/gotemplate"
)

// TestMain: the test binary is berth-format too, when the tests start
// it as the helper.
func TestMain(m *testing.M) {
	if os.Getenv("RENDER_TEST_HELPER") == "1" {
		if err := gotemplate.Serve(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	render.SetHelperCommand(func() (*exec.Cmd, error) {
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), "RENDER_TEST_HELPER=1")
		return c, nil
	})
	os.Exit(m.Run())
}

func TestRows(t *testing.T) {
	rows := []any{
		render.HistoryRow{ID: "abc", CreatedBy: "RUN x", Size: "1kB"},
		render.HistoryRow{ID: "<missing>", CreatedBy: "ENV A=b", Size: "0B"},
	}
	table := "IMAGE       CREATED   CREATED BY   SIZE      COMMENT\nabc                   RUN x        1kB       \n<missing>             ENV A=b      0B        \n"
	for format, want := range map[string]string{
		"":                               table,
		"table":                          table,
		"{{.ID}}":                        "abc\n<missing>\n",
		`table {{.ID}}\t{{.Size}}`:       "IMAGE       SIZE\nabc         1kB\n<missing>   0B\n",
		`{{.ID}}\t{{json .Size}}`:        "abc\t\"1kB\"\n<missing>\t\"0B\"\n",
		`{{upper .CreatedBy}}`:           "RUN X\nENV A=B\n",
		`table {{lower .ID}}\t{{.Size}}`: "image       SIZE\nabc         1kB\n<missing>   0B\n",
		`{{if eq .Size "0B"}}empty{{else}}{{.Size}}{{end}}`: "1kB\nempty\n",
	} {
		var b bytes.Buffer
		if err := render.Rows(&b, format, render.HistoryTable, render.HistoryHeaders, rows); err != nil || b.String() != want {
			t.Errorf("format %q: %v\n%q\nwant\n%q", format, err, b.String(), want)
		}
	}
	var b bytes.Buffer
	if err := render.Rows(&b, "json", render.HistoryTable, render.HistoryHeaders, rows[:1]); err != nil ||
		b.String() != `{"ID":"abc","CreatedSince":"","CreatedAt":"","CreatedBy":"RUN x","Size":"1kB","Comment":""}`+"\n" {
		t.Errorf("json: %v %s", err, b.String())
	}
	for _, bad := range []string{"{{.ID", "{{.Nope}}", "{{nope .ID}}"} {
		b.Reset()
		err := render.Rows(&b, bad, render.HistoryTable, render.HistoryHeaders, rows)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid --format: template: format:1") || strings.Contains(err.Error(), "\n") ||
			!errors.Is(err, errdefs.ErrInvalidArgument) || b.Len() != 0 {
			t.Errorf("format %q: %v (printed %q)", bad, err, b.String())
		}
	}
}

// TestListFormats: images, volume ls and network ls print docker's
// table headers for "table TEMPLATE" too.
func TestListFormats(t *testing.T) {
	for _, c := range []struct {
		format, table string
		headers       map[string]string
		row           any
		want          string
	}{
		{`table {{.Repository}}\t{{.Size}}`, render.ImagesTable, render.ImagesHeaders, render.ImageRow{Repository: "alpine", Size: "8MB"}, "REPOSITORY   SIZE\nalpine       8MB\n"},
		{"", render.ImagesTable, render.ImagesHeaders, render.ImageRow{Repository: "alpine", Tag: "3", ID: "abc", CreatedSince: "2 days ago", Size: "8MB"},
			"REPOSITORY   TAG       IMAGE ID   CREATED      SIZE\nalpine       3         abc        2 days ago   8MB\n"},
		{"", render.VolumesTable, render.VolumesHeaders, render.VolumeRow{Driver: "local", Name: "data"}, "DRIVER    VOLUME NAME\nlocal     data\n"},
		{`table {{.Name}}\t{{.Mountpoint}}`, render.VolumesTable, render.VolumesHeaders, render.VolumeRow{Name: "data", Mountpoint: "/v/data"}, "VOLUME NAME   MOUNTPOINT\ndata          /v/data\n"},
		{`table {{.Name}}\t{{.Driver}}`, render.NetworksTable, render.NetworksHeaders, render.NetworkRow{Name: "web", Driver: "bridge"}, "NAME      DRIVER\nweb       bridge\n"},
		{"", render.NetworksTable, render.NetworksHeaders, render.NetworkRow{ID: "0123456789ab", Name: "web", Driver: "bridge", Scope: "local", Subnet: "10.90.0.0/24"},
			"NETWORK ID     NAME      DRIVER    SCOPE\n0123456789ab   web       bridge    local\n"},
		{"json", render.NetworksTable, render.NetworksHeaders, render.NetworkRow{Name: "web", Containers: 2}, `{"ID":"","Name":"web","Driver":"","Scope":"","Bridge":"","Subnet":"","Containers":2}` + "\n"},
		// Through the helper: the count is still an int there.
		{`{{.Name}}{{if gt .Containers 1}} busy{{end}}`, render.NetworksTable, render.NetworksHeaders, render.NetworkRow{Name: "web", Containers: 2}, "web busy\n"},
		{"", render.PsTable, render.PsHeaders, render.PsRow{ID: "0123456789ab", Image: "nginx", Names: "web"},
			"CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n0123456789ab   nginx                                             web\n"},
	} {
		var b bytes.Buffer
		if err := render.Rows(&b, c.format, c.table, c.headers, []any{c.row}); err != nil || b.String() != c.want {
			t.Errorf("%T %q: %v\n%q\nwant\n%q", c.row, c.format, err, b.String(), c.want)
		}
	}
}

// TestDefaultTablesWithoutHelper: the default tables, and the simple
// formats, need no berth-format; any other says it is missing, in one
// line that names the fix.
func TestDefaultTablesWithoutHelper(t *testing.T) {
	restore := render.SetHelperCommand(func() (*exec.Cmd, error) {
		return nil, errors.New("berth-format is not installed beside berth: reinstall berth (make install)")
	})
	defer restore()
	rows := []any{render.PsRow{ID: "0123456789ab", Names: "web"}}
	for _, format := range []string{"", "table", `table {{.Names}}\t{{.ID}}`, "{{.Names}}", "{{json .}}", "json"} {
		var b bytes.Buffer
		if err := render.Rows(&b, format, render.PsTable, render.PsHeaders, rows); err != nil || !strings.Contains(b.String(), "web") {
			t.Errorf("%q: %v %q", format, err, b.String())
		}
	}
	var b bytes.Buffer
	err := render.Rows(&b, "{{upper .Names}}", render.PsTable, render.PsHeaders, rows)
	if err == nil || !strings.Contains(err.Error(), "berth-format is not installed") || b.Len() != 0 {
		t.Errorf("upper: %v %q", err, b.String())
	}
	// A field the fast path leaves to text/template (a missing one)
	// needs the helper too.
	err = render.Rows(&b, "{{.Nope}}", render.PsTable, render.PsHeaders, rows)
	if err == nil || !strings.Contains(err.Error(), "berth-format is not installed") {
		t.Errorf("missing field: %v", err)
	}
}

// TestInspectTemplates: inspect runs a template on the Go value, then on
// its JSON: .ID and .Id both name the ID, as in docker; functions and
// methods work through the helper; errors are one line.
func TestInspectTemplates(t *testing.T) {
	ci := engine.ContainerInspect{ID: "abc123", Name: "/web", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	ci.State.Status = "running"
	for format, want := range map[string]string{
		"{{.ID}}":                       "abc123",
		"{{.Id}}":                       "abc123",
		"{{.State.Status}}":             "running",
		"{{upper .State.Status}}":       "RUNNING",
		"{{.Created.Year}}":             "2026",
		"{{.Nope}}":                     "<no value>",
		"{{json .State.Status}}":        `"running"`,
		`{{index (split .Name "/") 1}}`: "web",
	} {
		tmpl, err := render.Parse(format, render.ModeInspect)
		if err != nil {
			t.Errorf("%q: %v", format, err)
			continue
		}
		var b bytes.Buffer
		err = render.Inspect(&b, tmpl, []any{ci, ci})
		if cerr := tmpl.Close(); err == nil {
			err = cerr
		}
		if err != nil || b.String() != want+"\n"+want+"\n" {
			t.Errorf("%q: %v %q, want %q", format, err, b.String(), want)
		}
	}
	_, err := render.Parse("{{.ID", render.ModeInspect)
	if err == nil || !strings.HasPrefix(err.Error(), "template parsing error: template: :1: unclosed action") || !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("parse: %v", err)
	}
	tmpl, err := render.Parse(`{{index .Name 99}}`, render.ModeInspect)
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.Close()
	if _, err := tmpl.Execute(ci); err == nil || !strings.HasPrefix(err.Error(), "template: :1:") || strings.Contains(err.Error(), "\n") {
		t.Errorf("execute: %v", err)
	}
}

// TestEventTemplates: an event's method (When) and its attributes, a
// missing one "<no value>"; the helper serves the whole stream.
func TestEventTemplates(t *testing.T) {
	tmpl, err := render.Parse(`{{.Action}} {{.Actor.Attributes.name}} {{.When.Year}}`, render.ModeInspect)
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.Close()
	for _, name := range []string{"a", "b", ""} {
		attrs := map[string]string{"name": name}
		if name == "" {
			attrs = nil
		}
		e := events.Event{Action: "start", TimeNano: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Actor: events.Actor{Attributes: attrs}}
		want := "start " + name + " 2025"
		if name == "" {
			want = "start <no value> 2025"
		}
		if got, err := tmpl.Execute(e); err != nil || got != want {
			t.Errorf("%q: %q %v", name, got, err)
		}
	}
	simple, err := render.Parse("{{json .}}", render.ModeInspect)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := simple.Execute(events.Event{Type: "image"}); err != nil || !strings.Contains(out, `"Type":"image"`) || simple.UsesHelper() {
		t.Errorf("json: %q %v (helper %v)", out, err, simple.UsesHelper())
	}
}

// TestObject: version's and info's --format.
func TestObject(t *testing.T) {
	v := engine.VersionOf("1.2.3", "abc", "")
	for format, want := range map[string]string{
		"{{.Client.Version}}":                  "1.2.3\n",
		"{{.Client.Version | printf \"v%s\"}}": "v1.2.3\n",
	} {
		var b bytes.Buffer
		if err := render.Object(&b, format, v); err != nil || b.String() != want {
			t.Errorf("%q: %v %q", format, err, b.String())
		}
	}
	var b bytes.Buffer
	if err := render.Object(&b, "json", v); err != nil || !strings.HasPrefix(b.String(), `{"Client":{"Version":"1.2.3"`) {
		t.Errorf("json: %v %q", err, b.String())
	}
	if err := render.Object(&b, "{{.Client.Nope}}", v); err == nil || !strings.HasPrefix(err.Error(), "--format: template: format:1:") {
		t.Errorf("bad field: %v", err)
	}
}
