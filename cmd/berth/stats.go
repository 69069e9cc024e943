package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/cobra"
)

func newStatsCommand(g *globalOptions) *cobra.Command {
	var noStream bool
	cmd := &cobra.Command{
		Use:     "stats [--no-stream] [CONTAINER...]",
		Short:   "Show running containers' CPU, memory, process, network and block I/O use, read from their cgroups and network namespaces",
		Example: "  berth stats\n  berth stats --no-stream web",
		RunE: func(cmd *cobra.Command, args []string) error {
			for {
				prev, err := sampleAll(g, args)
				if err != nil {
					return err
				}
				time.Sleep(500 * time.Millisecond) // CPU % is a rate over this interval
				cur, err := sampleAll(g, args)
				if err != nil {
					return err
				}
				if !noStream {
					fmt.Print("\033[2J\033[H") // redraw in place, as docker stats
				}
				printStats(prev, cur)
				if noStream {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	return cmd
}

func sampleAll(g *globalOptions, refs []string) (map[string]engine.Sample, error) {
	return g.engine().Stats(refs)
}

func printStats(prev, cur map[string]engine.Sample) {
	w := tabwriter.NewWriter(os.Stdout, 8, 1, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for id, s := range cur {
		cpu := 0.0
		if p, ok := prev[id]; ok && s.At.After(p.At) && s.Cgroup.CPUUsageNanos >= p.Cgroup.CPUUsageNanos {
			cpu = float64(s.Cgroup.CPUUsageNanos-p.Cgroup.CPUUsageNanos) / float64(s.At.Sub(p.At).Nanoseconds()) * 100
		}
		limit := s.Cgroup.MemoryLimit
		if limit == 0 || limit > 1<<62 {
			limit = hostMemory()
		}
		mem := 0.0
		if limit > 0 {
			mem = float64(s.Cgroup.MemoryUsage) / float64(limit) * 100
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n", managed.ShortID(id), s.Record.Name, cpu,
			binarySize(s.Cgroup.MemoryUsage), binarySize(limit), mem, humanSize(int64(s.RX)), humanSize(int64(s.TX)),
			humanSize(int64(s.Cgroup.BlockRead)), humanSize(int64(s.Cgroup.BlockWrite)), s.Cgroup.Pids)
	}
	w.Flush()
}

// hostMemory is MemTotal, the limit of a container without one.
func hostMemory() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// binarySize prints bytes as docker stats does memory: MiB, GiB.
func binarySize(n uint64) string {
	f, units := float64(n), []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func newTopCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "top CONTAINER",
		Short:   "Show a running container's processes (host PIDs)",
		Example: "  berth top web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := g.containers().Get(args[0])
			if err != nil {
				return err
			}
			pids, err := g.engine().Processes(rec)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 8, 1, 3, ' ', 0)
			fmt.Fprintln(w, "PID\tUID\tCMD")
			for _, pid := range pids {
				cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				uid := procUID(pid)
				fmt.Fprintf(w, "%d\t%s\t%s\n", pid, uid, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
			}
			return w.Flush()
		},
	}
}

// procUID is the real uid of pid, from /proc/PID/status.
func procUID(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}
