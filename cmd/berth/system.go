package main

import (
	"github.com/spf13/cobra"
)

// newSystemCommand is docker system: info, df and prune.
func newSystemCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Show berth's disk use and host, and remove what nothing uses"}
	cmd.AddCommand(newInfoCommand(g))
	return cmd
}
