package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth-runtime/berth/internal/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func newUpdateCommand(g *globals) *cobra.Command {
	var file string
	var memory, swap, reservation, quota, pids int64
	var shares, period uint64
	var cpus, mems string
	var blkioWeight uint16
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER_ID",
		Short: "Change a container's resource limits",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := &specs.LinuxResources{}
			if file != "" {
				if err := readResources(file, r); err != nil {
					return err
				}
			}
			fl := cmd.Flags()
			mem := func() *specs.LinuxMemory {
				if r.Memory == nil {
					r.Memory = &specs.LinuxMemory{}
				}
				return r.Memory
			}
			cpu := func() *specs.LinuxCPU {
				if r.CPU == nil {
					r.CPU = &specs.LinuxCPU{}
				}
				return r.CPU
			}
			if fl.Changed("memory") {
				mem().Limit = &memory
			}
			if fl.Changed("memory-swap") {
				mem().Swap = &swap
			}
			if fl.Changed("memory-reservation") {
				mem().Reservation = &reservation
			}
			if fl.Changed("cpu-shares") {
				cpu().Shares = &shares
			}
			if fl.Changed("cpu-quota") {
				cpu().Quota = &quota
			}
			if fl.Changed("cpu-period") {
				cpu().Period = &period
			}
			if fl.Changed("cpuset-cpus") {
				cpu().Cpus = cpus
			}
			if fl.Changed("cpuset-mems") {
				cpu().Mems = mems
			}
			if fl.Changed("pids-limit") {
				r.Pids = &specs.LinuxPids{Limit: &pids}
			}
			if fl.Changed("blkio-weight") {
				r.BlockIO = &specs.LinuxBlockIO{Weight: &blkioWeight}
			}
			return withContainer(g, args[0], func(c *container.Container) error { return c.Update(r) })
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "resources", "r", "", "JSON file of runtime-spec linux.resources (- for stdin)")
	fl.Int64Var(&memory, "memory", 0, "memory limit in bytes")
	fl.Int64Var(&swap, "memory-swap", 0, "memory plus swap limit in bytes")
	fl.Int64Var(&reservation, "memory-reservation", 0, "memory soft limit in bytes")
	fl.Uint64Var(&shares, "cpu-shares", 0, "CPU shares")
	fl.Int64Var(&quota, "cpu-quota", 0, "CFS quota in microseconds")
	fl.Uint64Var(&period, "cpu-period", 0, "CFS period in microseconds")
	fl.StringVar(&cpus, "cpuset-cpus", "", "CPUs to run on")
	fl.StringVar(&mems, "cpuset-mems", "", "memory nodes to use")
	fl.Int64Var(&pids, "pids-limit", 0, "maximum number of processes")
	fl.Uint16Var(&blkioWeight, "blkio-weight", 0, "block I/O weight")
	return cmd
}

func readResources(file string, r *specs.LinuxResources) error {
	var in io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("read --resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	if err := json.NewDecoder(in).Decode(r); err != nil {
		return fmt.Errorf("--resources: %w", err)
	}
	return nil
}

// event is one line of `events`, in the shape runc prints.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func newEventsCommand(g *globals) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [flags] CONTAINER_ID",
		Short: "Print the container's resource statistics and OOM events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			enc := json.NewEncoder(os.Stdout)
			var lastOOM uint64
			for {
				// Without the lifecycle lock: statistics change nothing.
				c, err := container.Attach(g.root, args[0])
				if err != nil {
					return err
				}
				s, status := c.Stats(), c.Status()
				if s.OOMKills > lastOOM {
					lastOOM = s.OOMKills
					if err := enc.Encode(event{Type: "oom", ID: args[0]}); err != nil {
						return err
					}
				}
				if err := enc.Encode(event{Type: "stats", ID: args[0], Data: s}); err != nil {
					return err
				}
				if stats || status == "stopped" {
					return nil
				}
				time.Sleep(interval)
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between statistics")
	return cmd
}
