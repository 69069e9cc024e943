// Package render prints what berth's list, inspect, events, version and
// info commands show, through docker's --format: a Go template over the
// object, "json", or "table TEMPLATE" with a header row.
//
// berth links no text/template executor. Its method calls by name
// (reflect.Value.MethodByName) make the linker keep every exported method
// of every type in the binary: berth's was 11.6 MB with it, 9.9 without
// (docs/bench.md). The formats of the
// default tables and most users' ("{{.Names}}", "table {{.ID}}\t{{.Status}}",
// "{{json .Config}}") are field chains that this package evaluates itself
// (simple.go), with the results text/template would give. Any other
// template goes to berth-format, a helper beside berth (cmd/berth-format,
// render/gotemplate), which decodes each object into its own Go type
// (kinds.go) and runs text/template with docker's functions on it.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/berth-runtime/berth/internal/errdefs"
)

// Mode is what a template is for: it decides how its errors read and
// whether a failed execution is retried on the object's JSON.
type Mode int

const (
	// ModeRows is a list command's --format over its rows (ps, images...).
	ModeRows Mode = iota
	// ModeObject is version's and info's --format over one object.
	ModeObject
	// ModeInspect is inspect's and events' --format: run on the Go value
	// first and, if that fails (a field named as in the JSON, "Id"), on
	// the object's JSON as a map, as docker inspect does.
	ModeInspect
)

// Template is a parsed --format. Close releases the helper it may hold.
type Template struct {
	format string
	mode   Mode
	fast   *simple // nil: the helper runs every object
	h      *helper
}

// Parse parses format for mode. A template this package cannot run
// itself is parsed by berth-format, started here, so that a bad one
// fails before anything is looked up or printed.
func Parse(format string, mode Mode) (*Template, error) {
	t := &Template{format: format, mode: mode}
	if s, ok := compileSimple(format); ok {
		t.fast = s
		return t, nil
	}
	if err := t.start(); err != nil {
		return nil, err
	}
	return t, nil
}

// Execute runs the template on v and returns its output.
func (t *Template) Execute(v any) (string, error) {
	if t.fast != nil {
		if out, ok := t.fast.exec(v); ok {
			return out, nil
		}
	}
	// A field this package does not follow (a method, a nil pointer, a
	// key that is missing): text/template says what it makes of it.
	if t.h == nil {
		if err := t.start(); err != nil {
			return "", err
		}
	}
	out, msg, err := t.h.execute(v, t.mode == ModeInspect)
	if err != nil {
		return "", err
	}
	if msg != "" {
		return "", t.execError(msg)
	}
	return out, nil
}

// Close stops the helper, if one was started.
func (t *Template) Close() error {
	if t == nil || t.h == nil {
		return nil
	}
	err := t.h.close()
	t.h = nil
	runtime.UnlockOSThread()
	return err
}

// start starts the helper. Its parent-death signal watches the thread
// that forks it: the calling goroutine keeps that thread until Close, so
// that no goroutine that ends its thread (link.handleAt) is given it.
func (t *Template) start() error {
	runtime.LockOSThread()
	h, msg, err := startHelper(t.format, t.name())
	if err == nil && msg != "" {
		err = t.parseError(msg) // the helper has ended
	}
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	t.h = h
	return nil
}

// name is the template's name in text/template's messages, as berth's
// have always read: "template: format:1: ..." for lists and objects.
func (t *Template) name() string {
	if t.mode == ModeInspect {
		return ""
	}
	return "format"
}

// parseError is a bad template's one line: docker's words for inspect
// and events, "invalid --format" elsewhere.
func (t *Template) parseError(msg string) error {
	if t.mode == ModeInspect {
		return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("template parsing error: %s", oneLine(msg)))
	}
	return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("invalid --format: %s", oneLine(msg)))
}

func (t *Template) execError(msg string) error {
	switch t.mode {
	case ModeInspect:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("template: %s", oneLine(strings.TrimPrefix(msg, "template: "))))
	case ModeObject:
		return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("--format: %s", oneLine(msg)))
	}
	return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("invalid --format: %s", oneLine(msg)))
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }

// JSON is docker's json template function: v's JSON on one line, with
// <, > and & as they are.
func JSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// Rows prints rows as docker's --format does: "" is the command's table;
// "json" one JSON object per row; "table TEMPLATE" a header (each field's
// name in headers) and aligned columns; any other TEMPLATE one line per
// row. \t and \n in it are a tab and a newline.
func Rows(w io.Writer, format, table string, headers map[string]string, rows []any) error {
	if format == "" {
		format = table
	}
	if format == "json" {
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", b)
		}
		return nil
	}
	isTable := false
	if rest, ok := strings.CutPrefix(format, "table"); ok && (rest == "" || rest[0] == ' ') {
		isTable, format = true, strings.TrimSpace(rest)
		if format == "" {
			format = strings.TrimPrefix(table, "table ")
		}
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := Parse(format, ModeRows)
	if err != nil {
		return err
	}
	defer tmpl.Close()
	out := w
	var tw *tabwriter.Writer
	if isTable {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		line, err := tmpl.Execute(headers)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, line)
	}
	for _, r := range rows {
		line, err := tmpl.Execute(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, line)
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return tmpl.Close()
}

// Object prints one object as docker version and info do with --format
// (not empty): "json" is one line of JSON, anything else a template.
func Object(w io.Writer, format string, v any) error {
	if format == "json" {
		format = "{{json .}}"
	}
	tmpl, err := Parse(format, ModeObject)
	if err != nil {
		return err
	}
	defer tmpl.Close()
	out, err := tmpl.Execute(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, out); err != nil {
		return err
	}
	return tmpl.Close()
}

// Inspect prints inspect's objects: with tmpl nil an indented JSON
// array, as docker does; else one template result per object.
func Inspect(w io.Writer, tmpl *Template, objs []any) error {
	if tmpl == nil {
		if objs == nil {
			objs = []any{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		enc.SetEscapeHTML(false)
		return enc.Encode(objs)
	}
	for _, o := range objs {
		out, err := tmpl.Execute(o)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, out+"\n"); err != nil {
			return err
		}
	}
	return nil
}
