package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/berth-runtime/berth/internal/managed"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/berth-runtime/berth/internal/volume"
	"github.com/spf13/cobra"
)

func newVolumeCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes: directories that outlive containers",
		Example: `  berth volume create data
  berth run --rm -v data:/data --rootfs ./rootfs sh -c 'echo hi > /data/f'
  berth volume ls`,
	}
	cmd.AddCommand(newVolumeCreate(g), newVolumeLs(g), newVolumeInspect(g), newVolumeRm(g), newVolumePrune(g))
	return cmd
}

func newVolumeCreate(g *globalOptions) *cobra.Command {
	var labels []string
	cmd := &cobra.Command{
		Use:   "create [--label KEY=VALUE] [NAME]",
		Short: "Create a volume (a random name unless one is given); an existing one is left as it is",
		Example: `  berth volume create data
  berth volume create --label app=web`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := volume.Options{}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return fmt.Errorf("invalid --label %q: use KEY=VALUE", l)
				}
				if o.Labels == nil {
					o.Labels = map[string]string{}
				}
				o.Labels[k] = v
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			} else {
				var err error
				if name, err = volume.NewName(); err != nil {
					return err
				}
			}
			v, _, err := g.volumes().Create(name, o)
			if err != nil {
				return err
			}
			fmt.Println(v.Name)
			return nil
		},
	}
	stringArrayVarP(cmd.Flags(), &labels, "label", "", "set a label on the volume (KEY=VALUE)")
	return cmd
}

func newVolumeLs(g *globalOptions) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [-q] [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Example: "  berth volume ls\n  berth volume ls -q\n  berth volume ls --format '{{.Name}}\\t{{.Mountpoint}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := g.volumes().List()
			if err != nil {
				return err
			}
			if quiet {
				format = "{{.Name}}"
			}
			rows := make([]any, len(list))
			for i, v := range list {
				rows[i] = render.VolumeRow{Driver: "local", Name: v.Name, Mountpoint: v.Mountpoint, Scope: "local"}
			}
			return render.Rows(os.Stdout, format, render.VolumesTable, render.VolumesHeaders, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print names only")
	cmd.Flags().StringVar(&format, "format", "", "Go template over .Driver .Name .Mountpoint .Scope; 'table TEMPLATE' adds a header; 'json' prints one object per line")
	return cmd
}

func newVolumeInspect(g *globalOptions) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:     "inspect [-f TEMPLATE] NAME...",
		Short:   "Show volumes as JSON, or through a template",
		Example: "  berth volume inspect data\n  berth volume inspect -f '{{.Mountpoint}}' data",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAll(f.format, args, func(name string) (any, error) { return inspectVolume(g, name) })
		},
	}
	addInspectFormat(cmd, &f)
	return cmd
}

func newVolumeRm(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [-f] NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove volumes and their data; a volume that a container (running or not) uses is kept",
		Example: "  berth volume rm data\n  berth volume rm -f maybe-gone",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store := g.volumes()
			refs := g.engine().VolumeRefs()
			var failed error
			for _, name := range args {
				err := volumeInUse(name, refs[name])
				if err == nil {
					err = store.Remove(name, force)
				}
				if err != nil {
					// One line per volume, as docker does for several names.
					printError(err)
					failed = exitError{1}
					continue
				}
				fmt.Println(name)
			}
			return failed
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail on volumes that do not exist")
	return cmd
}

func newVolumePrune(g *globalOptions) *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:     "prune [-a] [-f]",
		Short:   "Remove the anonymous volumes no container uses (-a: every volume no container uses)",
		Example: "  berth volume prune\n  berth volume prune -a -f   # named ones too, without asking",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := pruneVolumesWarning
			if all {
				warning = pruneAllVolumesWarning
			}
			if !confirmed(force, warning) {
				return nil
			}
			removed, err := g.engine().PruneVolumes(all, nil)
			for _, name := range removed {
				fmt.Println(name)
			}
			return err
		},
	}
	addForce(cmd, &force)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too, not only anonymous ones (as Docker 23)")
	return cmd
}

// volumeInUse refuses to remove a volume that containers name, running or
// not, as docker does: they would get a new, empty one when started.
func volumeInUse(name string, users []managed.Record) error {
	if len(users) == 0 {
		return nil
	}
	var names []string
	for _, rec := range users {
		names = append(names, rec.Name)
	}
	what, pronoun := "container", "it"
	if len(names) > 1 {
		what, pronoun = "containers", "them"
	}
	return fmt.Errorf("volume %s is in use by %s %s: remove %s first (berth rm %s)", name, what, strings.Join(names, ", "), pronoun, strings.Join(names, " "))
}
