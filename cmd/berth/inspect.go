package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/spf13/cobra"
)

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
	var tmpl *render.Template
	if format != "" {
		t, err := render.Parse(format, render.ModeInspect)
		if err != nil {
			return err
		}
		defer t.Close()
		tmpl = t
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
	if err := render.Inspect(os.Stdout, tmpl, objs); err != nil {
		return err
	}
	if err := tmpl.Close(); err != nil {
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
