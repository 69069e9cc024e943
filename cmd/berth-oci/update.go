package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berth-runtime/berth/internal/cgroups"
	"github.com/berth-runtime/berth/internal/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func newUpdateCommand(g *globals) *cobra.Command {
	var file string
	var memory, swap, reservation string
	var quota, pids, rtRuntime int64
	var shares, period, rtPeriod uint64
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
			for _, f := range []struct {
				name, value string
				set         func(*specs.LinuxMemory, *int64)
			}{
				{"memory", memory, func(m *specs.LinuxMemory, v *int64) { m.Limit = v }},
				{"memory-swap", swap, func(m *specs.LinuxMemory, v *int64) { m.Swap = v }},
				{"memory-reservation", reservation, func(m *specs.LinuxMemory, v *int64) { m.Reservation = v }},
			} {
				if fl.Changed(f.name) {
					v, err := parseBytes(f.value)
					if err != nil {
						return fmt.Errorf("--%s: %w", f.name, err)
					}
					f.set(mem(), &v)
				}
			}
			if fl.Changed("cpu-share") || fl.Changed("cpu-shares") {
				cpu().Shares = &shares
			}
			if fl.Changed("cpu-rt-period") {
				cpu().RealtimePeriod = &rtPeriod
			}
			if fl.Changed("cpu-rt-runtime") {
				cpu().RealtimeRuntime = &rtRuntime
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
	// runc compat: runc's flag names, and sizes such as 50M (runc's tests).
	fl.StringVar(&memory, "memory", "", "memory limit in bytes (or with a unit: 50M, 1g)")
	fl.StringVar(&swap, "memory-swap", "", "memory plus swap limit in bytes; -1 for unlimited swap")
	fl.StringVar(&reservation, "memory-reservation", "", "memory soft limit in bytes")
	fl.Uint64Var(&shares, "cpu-share", 0, "CPU shares")
	fl.Uint64Var(&shares, "cpu-shares", 0, "CPU shares")
	_ = fl.MarkHidden("cpu-shares")
	fl.Uint64Var(&rtPeriod, "cpu-rt-period", 0, "CPU realtime period in microseconds")
	fl.Int64Var(&rtRuntime, "cpu-rt-runtime", 0, "CPU realtime runtime in microseconds")
	fl.Int64Var(&quota, "cpu-quota", 0, "CFS quota in microseconds")
	fl.Uint64Var(&period, "cpu-period", 0, "CFS period in microseconds")
	fl.StringVar(&cpus, "cpuset-cpus", "", "CPUs to run on")
	fl.StringVar(&mems, "cpuset-mems", "", "memory nodes to use")
	fl.Int64Var(&pids, "pids-limit", 0, "maximum number of processes")
	fl.Uint16Var(&blkioWeight, "blkio-weight", 0, "block I/O weight")
	return cmd
}

// parseBytes reads a size as runc's update does: bytes, or a number with a
// binary unit (k, m, g, t, p, any case, optionally followed by b or ib),
// or -1 for no limit.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := 1.0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgtp", t[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = strings.TrimSpace(t[:n-1])
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || strings.Trim(t, "0123456789.") != "" || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: give bytes, or a number with k, m, g, t or p", s)
	}
	return int64(v * mult), nil
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

// runcStats is the part of runc's statistics (libcontainer's types.Stats)
// that berth reports: runc compat, for tools that read runc's events.
type runcStats struct {
	CPU struct {
		Usage struct {
			Total uint64 `json:"total,omitempty"`
		} `json:"usage,omitempty"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Limit uint64 `json:"limit"`
			Usage uint64 `json:"usage,omitempty"`
		} `json:"usage,omitempty"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current,omitempty"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
}

func runcStatsOf(s cgroups.Stats) runcStats {
	var r runcStats
	r.CPU.Usage.Total = s.CPUUsageNanos
	r.Memory.Usage.Limit, r.Memory.Usage.Usage = s.MemoryLimit, s.MemoryUsage
	r.Pids.Current, r.Pids.Limit = s.Pids, s.PidsLimit
	return r
}

func newEventsCommand(g *globals) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [flags] CONTAINER_ID",
		Short: "Print the container's resource statistics and OOM events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval %s: must be greater than 0", interval)
			}
			enc := json.NewEncoder(os.Stdout)
			// OOM events are printed as the kernel signals them (runc's
			// events does the same); where it cannot be watched, a
			// growing OOM-kill count is reported with the statistics.
			var oom <-chan struct{}
			if !stats {
				if c, err := container.Load(g.root, args[0]); err == nil {
					if w, err := c.WatchOOM(); err == nil {
						defer w.Close()
						oom = w.C
					}
					c.Close()
				}
			}
			watching := oom != nil
			var lastOOM uint64
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				// Without the lifecycle lock: statistics change nothing.
				c, err := container.Attach(g.root, args[0])
				if err != nil {
					return err
				}
				s, status := c.Stats(), c.Status()
				c.Close()
				if !watching && s.OOMKills > lastOOM {
					lastOOM = s.OOMKills
					if err := enc.Encode(event{Type: "oom", ID: args[0]}); err != nil {
						return err
					}
				}
				if err := enc.Encode(event{Type: "stats", ID: args[0], Data: runcStatsOf(s)}); err != nil {
					return err
				}
				if stats || status == "stopped" {
					return nil
				}
				for waiting := true; waiting; {
					select {
					case <-tick.C:
						waiting = false
					case _, ok := <-oom:
						if !ok {
							oom = nil // the cgroup is gone: the next statistics say so
							continue
						}
						if err := enc.Encode(event{Type: "oom", ID: args[0]}); err != nil {
							return err
						}
					}
				}
			}
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between statistics")
	return cmd
}
