package main

import (
	"os"

	"github.com/berth-runtime/berth/internal/container"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/state"
	"github.com/spf13/cobra"
)

// collectGarbage releases, before every command, what owners that are
// gone left: berth has no daemon, and a killed berth run or monitor
// leaves its container's runtime state and cgroups, its published ports'
// rules, its address and network files, and a --rm container's record.
// Whatever the user runs next (rm, ps, run...) cleans up, so that a dead
// container's port is refused at once rather than timing out. It is cheap
// when there is nothing to collect: a few directory reads and one lock
// try per container.
func collectGarbage(g *globalOptions, cmd *cobra.Command) {
	if os.Geteuid() != 0 {
		return // nothing berth owns is this user's to remove
	}
	switch cmd.Name() {
	case "help", "man", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return
	case "run":
		// berth run -d collected already before it started the monitor.
		if monitor, _ := cmd.Flags().GetBool("monitor"); monitor {
			return
		}
	}
	g.containers().Collect(func(string) {})
	// Ranges of --userns=auto containers whose record is gone.
	_ = g.idRanges().Collect(g.rangeHeld)
	network.CollectAll(g.root)
	if cmd.Name() != "run" {
		// berth run's container.Create collects the runtime state itself.
		state.Store{Root: g.runroot}.Collect(container.Cleanup)
	}
}
