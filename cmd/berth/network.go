package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/network"
	"github.com/berth-runtime/berth/internal/network/ipam"
	"github.com/berth-runtime/berth/internal/render"
	"github.com/spf13/cobra"
)

func newNetworkCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage bridge networks",
	}
	cmd.AddCommand(newNetworkCreate(g), newNetworkLs(g), newNetworkInspect(g), newNetworkRm(g), newNetworkPrune(g),
		newNetworkConnect(g), newNetworkDisconnect(g))
	return cmd
}

func newNetworkCreate(g *globalOptions) *cobra.Command {
	var subnet string
	cmd := &cobra.Command{
		Use:     "create [--subnet CIDR] NAME",
		Short:   "Create a bridge network on which containers reach each other by name",
		Example: "  berth network create --subnet 10.90.0.0/24 web\n  berth run --rm --network web --name db --rootfs ./rootfs sleep 100",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p netip.Prefix
			if subnet != "" {
				var err error
				if p, err = ipam.ParseSubnet(subnet); err != nil {
					return err
				}
			}
			n, err := network.Create(g.root, args[0], p)
			if err != nil {
				return err
			}
			fmt.Println(n.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&subnet, "subnet", "", "IPv4 subnet (default: a free 10.89.N.0/24)")
	return cmd
}

func newNetworkLs(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "ls [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Example: "  berth network ls\n  berth network ls --format '{{.Name}} {{.Subnet}}'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []any
			for _, n := range network.List(g.root) {
				id, err := n.ID()
				if err != nil {
					return err
				}
				rows = append(rows, render.NetworkRow{ID: id[:12], Name: n.Name, Driver: "bridge", Scope: "local", Bridge: n.Bridge,
					Subnet: n.Subnet.String(), Containers: len(n.Members())})
			}
			return render.Rows(os.Stdout, format, render.NetworksTable, render.NetworksHeaders, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Go template over .ID .Name .Driver .Scope .Bridge .Subnet .Containers; 'table TEMPLATE' adds a header; 'json' prints one object per line")
	return cmd
}

func newNetworkInspect(g *globalOptions) *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:     "inspect [-f TEMPLATE] NAME...",
		Short:   "Show networks as JSON, or through a template",
		Example: "  berth network inspect bridge\n  berth network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' bridge",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspectAll(f.format, args, func(name string) (any, error) { return inspectNetwork(g, name) })
		},
	}
	addInspectFormat(cmd, &f)
	return cmd
}

func newNetworkRm(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove networks that no running container uses",
		Example: "  berth network rm web",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				n, err := loadNetwork(g, name)
				if err != nil {
					return err
				}
				if err := n.Remove(); err != nil {
					return err
				}
				fmt.Println(name)
			}
			return nil
		},
	}
}

func newNetworkPrune(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "prune [-f]",
		Short:   "Remove every user-defined network without running containers, and what dead containers left",
		Example: "  berth network prune\n  berth network prune -f   # without asking",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirmed(force, pruneNetworksWarning) {
				return nil
			}
			for _, name := range g.engine().PruneNetworks() {
				fmt.Println(name)
			}
			return nil
		},
	}
	addForce(cmd, &force)
	return cmd
}

func loadNetwork(g *globalOptions, name string) (*network.Network, error) {
	n, err := network.Load(g.root, name)
	if errors.Is(err, network.ErrNotFound) {
		return nil, fmt.Errorf("network %q not found: see berth network ls", name)
	}
	return n, err
}

func newNetworkConnect(g *globalOptions) *cobra.Command {
	var o engine.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [--ip IP] [--alias NAME] NETWORK CONTAINER",
		Short: "Connect a container to a network besides its own",
		Example: "  berth network connect backend web\n" +
			"  berth network connect --ip 10.90.0.9 --alias api backend web",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[1])
			if err != nil {
				return err
			}
			return g.engine().NetworkConnect(rec, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.IP, "ip", "", "the container's IPv4 address on the network (user-defined networks)")
	stringArrayVarP(cmd.Flags(), &o.Aliases, "alias", "", "another name the network's containers resolve it by (user-defined networks)")
	return cmd
}

func newNetworkDisconnect(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "disconnect [-f] NETWORK CONTAINER",
		Short:   "Disconnect a container from a network",
		Example: "  berth network disconnect backend web",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[1])
			if err != nil {
				return err
			}
			return g.engine().NetworkDisconnect(rec, args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "also leave a network that no longer exists")
	return cmd
}
