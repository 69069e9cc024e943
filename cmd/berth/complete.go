package main

import (
	"slices"
	"strings"

	"github.com/berth-runtime/berth/internal/network"
	"github.com/spf13/cobra"
)

// completeVolumes completes volume names for shell completion.
func completeVolumes(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		vols, _ := g.volumes().List()
		var names []string
		for _, v := range vols {
			if strings.HasPrefix(v.Name, toComplete) {
				names = append(names, v.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNetworks completes network names (bridge and the user's).
func completeNetworks(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, n := range network.List(g.root) {
			if strings.HasPrefix(n.Name, toComplete) {
				names = append(names, n.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeAnyObject completes berth inspect's names: containers, images,
// volumes and networks.
func completeAnyObject(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var all []string
		for _, f := range []cobra.CompletionFunc{completeContainers(g), completeImageNames(g, 0), completeVolumes(g), completeNetworks(g)} {
			names, _ := f(cmd, args, toComplete)
			all = append(all, names...)
		}
		return all, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions sets the completion of names on the commands that take
// them, and of --network on run and create.
func addCompletions(g *globalOptions, root *cobra.Command) {
	for _, path := range [][]string{{"volume", "inspect"}, {"volume", "rm"}} {
		if c := subcommand(root, path...); c != nil {
			c.ValidArgsFunction = completeVolumes(g)
		}
	}
	for _, path := range [][]string{{"network", "inspect"}, {"network", "rm"}} {
		if c := subcommand(root, path...); c != nil {
			c.ValidArgsFunction = completeNetworks(g)
		}
	}
	if c := subcommand(root, "inspect"); c != nil {
		c.ValidArgsFunction = completeAnyObject(g)
	}
	for _, path := range [][]string{{"run"}, {"create"}, {"container", "run"}, {"container", "create"}} {
		if c := subcommand(root, path...); c != nil && c.Flags().Lookup("network") != nil {
			_ = c.RegisterFlagCompletionFunc("network", completeNetworks(g))
		}
	}
}

// subcommand is the command path names under c, or nil. Unlike
// cobra's Find it builds no error, whose suggestions measure the
// distance to every command's name: berth run, whose tree has one
// command, looked for six that are not there at every start.
func subcommand(c *cobra.Command, path ...string) *cobra.Command {
	for _, name := range path {
		i := slices.IndexFunc(c.Commands(), func(sub *cobra.Command) bool { return sub.Name() == name })
		if i < 0 {
			return nil
		}
		c = c.Commands()[i]
	}
	return c
}
