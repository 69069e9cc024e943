package main

import (
	"fmt"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newUpdateCommand is docker update: resources and the restart policy of
// containers, live on running ones, stored for every later start.
func newUpdateCommand(g *globalOptions) *cobra.Command {
	var memory, swap, reservation, cpus, cpusetCpus, cpusetMems, restart string
	var shares, period, quota, pids int64
	var weight uint16
	cmd := &cobra.Command{
		Use:     "update [OPTIONS] CONTAINER...",
		Short:   "Change the resources of containers",
		Example: "  berth update --memory 512m --memory-swap 1g --cpus 1.5 web\n  berth update --restart unless-stopped web db",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var u engine.Update
			str := func(name string, v *string) *string { return changed(fl, name, v) }
			u.Memory, u.MemorySwap, u.MemoryReservation, u.CPUs = str("memory", &memory), str("memory-swap", &swap), str("memory-reservation", &reservation), str("cpus", &cpus)
			u.CpusetCpus, u.CpusetMems = str("cpuset-cpus", &cpusetCpus), str("cpuset-mems", &cpusetMems)
			u.CPUShares, u.CPUPeriod, u.CPUQuota, u.PidsLimit = changed(fl, "cpu-shares", &shares), changed(fl, "cpu-period", &period), changed(fl, "cpu-quota", &quota), changed(fl, "pids-limit", &pids)
			u.BlkioWeight = changed(fl, "blkio-weight", &weight)
			if fl.Changed("restart") {
				p, err := managed.ParsePolicy(restart)
				if err != nil {
					return err
				}
				u.Restart = &p
			}
			if u == (engine.Update{}) {
				return fmt.Errorf("you must provide one or more flags when using this command")
			}
			return forEach(g, args, func(rec managed.Record) error {
				e := g.engine()
				if err := e.WithOpLock(rec.ID, func(rec managed.Record) error { return e.Update(rec, u) }); err != nil {
					return err
				}
				fmt.Println(rec.Name)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "memory limit (e.g. 256m)")
	fl.StringVar(&swap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	fl.StringVar(&reservation, "memory-reservation", "", "memory soft limit")
	fl.StringVar(&cpus, "cpus", "", "number of CPUs (e.g. 0.5)")
	fl.Int64VarP(&shares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Int64Var(&period, "cpu-period", 0, "CFS period in microseconds")
	fl.Int64Var(&quota, "cpu-quota", 0, "CFS quota in microseconds")
	fl.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs the container may use (e.g. 0-1)")
	fl.StringVar(&cpusetMems, "cpuset-mems", "", "memory nodes the container may use")
	fl.Int64Var(&pids, "pids-limit", 0, "maximum number of processes (0 or -1: unlimited)")
	fl.Uint16Var(&weight, "blkio-weight", 0, "block I/O weight, 10 to 1000")
	fl.StringVar(&restart, "restart", "", "restart policy: no, on-failure[:N], always, unless-stopped")
	return cmd
}

// changed is &v's value when the flag was given, else nil.
func changed[T any](fl *pflag.FlagSet, name string, v *T) *T {
	if !fl.Changed(name) {
		return nil
	}
	out := *v
	return &out
}
