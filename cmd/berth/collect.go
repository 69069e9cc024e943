package main

import (
	"github.com/spf13/cobra"
)

// collectGarbage releases, before every command, what owners that are
// gone left (engine.Collect): berth has no daemon, so whatever the user
// runs next cleans up.
func collectGarbage(g *globalOptions, cmd *cobra.Command) {
	switch cmd.Name() {
	case "help", "man", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return
	case "run":
		// berth run -d collected already before it started the monitor.
		if monitor, _ := cmd.Flags().GetBool("monitor"); monitor {
			return
		}
	}
	// berth run's container.Create collects the runtime state itself.
	g.engine().Collect(cmd.Name() != "run")
}
