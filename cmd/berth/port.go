package main

import (
	"errors"
	"fmt"

	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/spf13/cobra"
)

// newPortCommand is docker port: a running container's published ports.
func newPortCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:   "List a running container's published ports, or where one of them is published",
		Example: "  berth port web\n  berth port web 80/tcp",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			private := ""
			if len(args) == 2 {
				private = args[1]
			}
			ports, err := g.engine().Ports(rec, private)
			if errors.Is(err, errdefs.ErrNotFound) {
				// docker port's status for a port not published: 1.
				printError(err)
				return exitError{1}
			}
			if err != nil {
				return err
			}
			for _, p := range ports {
				if private != "" {
					fmt.Println(p.Public())
				} else {
					fmt.Println(p)
				}
			}
			return nil
		},
	}
}
