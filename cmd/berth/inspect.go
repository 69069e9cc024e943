package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/spf13/cobra"
)

// templateFuncs are docker/cli's template functions (its templates
// package), beside text/template's own (index, len, printf, ...). Built
// per call: nothing at init.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) (string, error) {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				return "", err
			}
			return strings.TrimSpace(b.String()), nil
		},
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

// parseTemplate parses a --format template with docker's functions; a bad
// one is docker's one line, "template parsing error: ...", exit 125.
func parseTemplate(format string) (*template.Template, error) {
	tmpl, err := template.New("").Funcs(templateFuncs()).Parse(format)
	if err != nil {
		return nil, errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("template parsing error: %s", oneLine(err.Error())))
	}
	return tmpl, nil
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }

// executeTemplate runs tmpl on v as docker inspect does: on the Go value
// first, then, if that fails (a field named as in the JSON, "Id", or one
// the type lacks), on v's JSON as a map, where a missing key is
// "<no value>". One line per object.
func executeTemplate(w io.Writer, tmpl *template.Template, v any) error {
	var out bytes.Buffer
	if err := tmpl.Execute(&out, v); err != nil {
		out.Reset()
		raw, merr := asMap(v)
		if merr != nil {
			return merr
		}
		if err := tmpl.Execute(&out, raw); err != nil {
			return errdefs.Wrap(errdefs.ErrInvalidArgument, fmt.Errorf("template: %s", oneLine(strings.TrimPrefix(err.Error(), "template: "))))
		}
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// asMap is v's JSON as generic values, numbers kept as written.
func asMap(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m any
	return m, dec.Decode(&m)
}

// printInspected prints inspect's objects: a JSON array, or with
// --format one template result per object.
func printInspected(w io.Writer, format string, objs []any) error {
	if format == "" {
		if objs == nil {
			objs = []any{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		enc.SetEscapeHTML(false)
		return enc.Encode(objs)
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := executeTemplate(w, tmpl, o); err != nil {
			return err
		}
	}
	return nil
}

// inspectFlags are -f/--format (and -s/--size on containers).
type inspectFlags struct {
	format string
	size   bool
	kind   string
}

func addInspectFormat(cmd *cobra.Command, f *inspectFlags) {
	cmd.Flags().StringVarP(&f.format, "format", "f", "", "Go template over docker's fields, e.g. '{{.State.Status}}' or '{{json .Config}}'")
}

// inspectAll looks each name up with find and prints what was found;
// names not found are reported one line each, exit 1, as docker does,
// after the others are printed. A bad template fails first, alone.
func inspectAll(format string, names []string, find func(string) (any, error)) error {
	if format != "" {
		if _, err := parseTemplate(format); err != nil {
			return err
		}
	}
	var objs []any
	var failed error
	for _, name := range names {
		o, err := find(name)
		if err != nil {
			printError(err)
			failed = exitError{1}
			continue
		}
		objs = append(objs, o)
	}
	if err := printInspected(os.Stdout, format, objs); err != nil {
		return err
	}
	return failed
}

// newInspectCommand is docker inspect: containers, else images, volumes
// and networks (--type picks one kind).
func newInspectCommand(g *globalOptions) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:     "inspect [-f TEMPLATE] [-s] [--type container|image|volume|network] NAME...",
		Short:   "Show containers', images', volumes' or networks' details as JSON, or through a template",
		Example: "  berth inspect web\n  berth inspect -f '{{.State.Status}} {{.NetworkSettings.IPAddress}}' web\n  berth inspect --type image alpine",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch f.kind {
			case "", "container", "image", "volume", "network":
			default:
				return errdefs.New(errdefs.ErrInvalidArgument, "%q is not a valid value for --type: give container, image, volume or network", f.kind)
			}
			return inspectAll(f.format, args, func(name string) (any, error) { return inspectObject(g, name, f) })
		},
	}
	addInspectFormat(cmd, &f)
	cmd.Flags().BoolVarP(&f.size, "size", "s", false, "show a container's sizes: SizeRw (its writable layer) and SizeRootFs (with its image)")
	cmd.Flags().StringVar(&f.kind, "type", "", "look only among containers, images, volumes or networks")
	return cmd
}

// inspectObject is the first of a container, image, volume or network
// named name, of the kind asked for.
func inspectObject(g *globalOptions, name string, f inspectFlags) (any, error) {
	kinds := []struct {
		kind string
		find func() (any, error)
	}{
		{"container", func() (any, error) { return inspectContainer(g, name, f.size) }},
		{"image", func() (any, error) { return inspectImage(g, name) }},
		{"volume", func() (any, error) { return inspectVolume(g, name) }},
		{"network", func() (any, error) { return inspectNetwork(g, name) }},
	}
	var first error
	for _, k := range kinds {
		if f.kind != "" && f.kind != k.kind {
			continue
		}
		o, err := k.find()
		if err == nil {
			return o, nil
		}
		if first == nil {
			first = err
		}
	}
	if f.kind != "" {
		return nil, first
	}
	return nil, errdefs.New(errdefs.ErrNotFound, "No such object: %s", name)
}

func inspectContainer(g *globalOptions, ref string, size bool) (any, error) {
	rec, err := g.containers().Get(ref)
	if err != nil {
		return nil, err
	}
	return g.engine().Inspect(rec, engine.InspectOptions{Size: size}), nil
}

// newContainerInspect is docker container inspect: containers only.
func newContainerInspect(g *globalOptions) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:     "inspect [-f TEMPLATE] [-s] CONTAINER...",
		Short:   "Show containers' details as JSON: configuration, state, network settings",
		Example: "  berth container inspect web\n  berth container inspect -f '{{.State.Pid}}' web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAll(f.format, args, func(name string) (any, error) { return inspectContainer(g, name, f.size) })
		},
	}
	addInspectFormat(cmd, &f)
	cmd.Flags().BoolVarP(&f.size, "size", "s", false, "show SizeRw (the writable layer) and SizeRootFs (with the image)")
	return cmd
}

func inspectImage(g *globalOptions, ref string) (any, error) {
	store, err := g.imageStore()
	if err != nil {
		return nil, err
	}
	img, err := store.Get(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := store.Config(img.ID)
	if err != nil {
		return nil, err
	}
	return engine.InspectImage(img, cfg), nil
}

func inspectVolume(g *globalOptions, name string) (any, error) { return g.engine().InspectVolume(name) }

func inspectNetwork(g *globalOptions, name string) (any, error) {
	if _, err := loadNetwork(g, name); err != nil {
		return nil, err
	}
	return g.engine().InspectNetwork(name)
}
