package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-runtime/berth/internal/image"
)

// newBuilderCommand is docker builder: prune (and build, as docker
// builder build).
func newBuilderCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage the build cache",
		Args:  cobra.NoArgs,
	}
	var force bool
	prune := &cobra.Command{
		Use:     "prune [-f]",
		Short:   "Remove the build cache: every cached step and the images only it kept",
		Example: "  berth builder prune -f",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirmed(force, "WARNING! This will remove all dangling build cache.") {
				return nil
			}
			r, err := pruneBuildCache(g)
			if err != nil {
				return err
			}
			// As docker builder prune prints it.
			if len(r.Deleted) > 0 {
				fmt.Println("Deleted build cache objects:")
				for _, id := range r.Deleted {
					fmt.Println(id)
				}
				fmt.Println()
			}
			fmt.Printf("Total reclaimed space: %s\n", decimalSize(r.Bytes))
			return nil
		},
	}
	addForce(prune, &force)
	cmd.AddCommand(prune, newBuildCommand(g))
	return cmd
}

func pruneBuildCache(g *globalOptions) (image.Removed, error) { return g.engine().PruneBuildCache() }
