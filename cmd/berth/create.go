package main

import (
	"fmt"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/errdefs"

	"github.com/spf13/cobra"
)

// newCreateCommand is docker create: run's options, a container left
// Created for berth start.
func newCreateCommand(g *globalOptions) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND] [ARG...]",
		Short: "Create a container without starting it (berth start runs it)",
		Example: `  berth create --name web -p 8080:80 busybox httpd -f -p 80
  berth start web
  id=$(berth create alpine echo hi) && berth start -a $id`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errdefs.New(errdefs.ErrInvalidArgument, "berth create needs an image: berth create IMAGE [COMMAND...], or berth create --rootfs DIR COMMAND...")
			}
			f.opts.EntrypointSet = cmd.Flags().Changed("entrypoint")
			// Started later by berth start, under a monitor: as run -d.
			f.detach = true
			cfg, create, err := f.prepare(g, cmd.Flags(), args)
			if err != nil {
				return err
			}
			cidfile, err := engine.CreateCIDFile(f.options.cidfile)
			if err != nil {
				return err
			}
			rec, err := g.engine().CreateStored(cfg, create)
			if err == nil {
				err = cidfile.Write(rec.ID)
			}
			if err != nil {
				cidfile.Discard()
				return err
			}
			fmt.Println(rec.ID)
			return nil
		},
	}
	addRunFlags(cmd.Flags(), f)
	return cmd
}
