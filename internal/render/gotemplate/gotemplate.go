// Package gotemplate is berth-format's side of render: it runs --format
// templates with text/template and docker's functions, on the objects
// berth sends (render's protocol). Only berth-format links it, and with
// it text/template.
package gotemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/berth-runtime/berth/internal/render"
)

// Funcs are docker/cli's template functions (its templates package),
// beside text/template's own (index, len, printf, ...).
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json":  render.JSON,
		"split": strings.Split, "join": joinAny, "lower": strings.ToLower, "upper": strings.ToUpper,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
		"pad": func(s string, before, after int) string {
			return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
		},
		"truncate": func(s string, n int) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"println": func(args ...any) string { return fmt.Sprintln(args...) },
	}
}

// joinAny is docker's join, also over a list read from JSON (inspect's
// second try, on the map).
func joinAny(v any, sep string) (string, error) {
	switch l := v.(type) {
	case []string:
		return strings.Join(l, sep), nil
	case []any:
		s := make([]string, len(l))
		for i, e := range l {
			s[i] = fmt.Sprint(e)
		}
		return strings.Join(s, sep), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("join: %T is not a list", v)
}

// Parse parses a --format template with docker's functions.
func Parse(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(Funcs()).Parse(text)
}

// Execute runs tmpl on o: on the object as berth had it, then, for a
// fallback object that failed, on its JSON as a map, where a missing key
// is "<no value>" and numbers are kept as written.
func Execute(tmpl *template.Template, o render.Item) (string, error) {
	v, err := render.Decode(o.Kind, o.Value)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = tmpl.Execute(&out, v)
	if err == nil || !o.Fallback {
		return out.String(), err
	}
	out.Reset()
	dec := json.NewDecoder(bytes.NewReader(o.Value))
	dec.UseNumber()
	var m any
	if err := dec.Decode(&m); err != nil {
		return "", err
	}
	err = tmpl.Execute(&out, m)
	return out.String(), err
}

// Serve answers berth on r and w until r ends: the Request, then each
// Item. A template that does not parse ends the session.
func Serve(r io.Reader, w io.Writer) error {
	dec, enc := json.NewDecoder(r), json.NewEncoder(w)
	var req render.Request
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("read the request: %w", err)
	}
	tmpl, err := Parse(req.Name, req.Format)
	if err != nil {
		return enc.Encode(render.Reply{Error: err.Error()})
	}
	if err := enc.Encode(render.Reply{}); err != nil {
		return err
	}
	for {
		var o render.Item
		if err := dec.Decode(&o); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read an object: %w", err)
		}
		out, err := Execute(tmpl, o)
		rep := render.Reply{Out: out}
		if err != nil {
			rep = render.Reply{Error: err.Error()}
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
}
