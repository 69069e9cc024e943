package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/cgroups/devicefilter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Controllers are enabled for berth's cgroups when the host offers them.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids", "io", "hugetlb"}

func (c *Cgroup) createV2(r *specs.LinuxResources) error {
	dir := c.Dirs[0]
	if err := enableControllers(filepath.Dir(dir), c.Delegated); err != nil {
		return err
	}
	if c.owns(dir) {
		if err := unix.Mkdir(dir, 0o755); err != nil {
			c.disown(dir, err)
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	if c.Delegated == "" {
		if err := c.setDevicesV2(deviceRules(r)); err != nil {
			return err
		}
	}
	if r == nil {
		return nil
	}
	return c.applyV2(r)
}

func (c *Cgroup) applyV2(r *specs.LinuxResources) error {
	for _, set := range []func(*specs.LinuxResources) error{c.setPidsV2, c.setMemoryV2, c.setCPUV2, c.setExtraV2} {
		if err := set(r); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers makes dir exist with the v2 controllers enabled for
// its children, and does the same for each ancestor up to Root, or up to
// top (a user's delegated subtree) when it is set.
func enableControllers(dir, top string) error {
	if dir == Root {
		return delegate(dir)
	}
	if dir == top {
		if ok, err := hasControllers(dir); ok || err != nil {
			return err
		}
		return delegate(dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.subtree_control")); err == nil {
		if ok, _ := hasControllers(dir); ok {
			return nil
		}
	}
	if err := enableControllers(filepath.Dir(dir), top); err != nil {
		return err
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return delegate(dir)
}

// hasControllers reports whether dir already passes on to its children
// every controller berth wants that the host has: the root's, not dir's
// own, which lack what an ancestor does not pass on (systemd enables
// only memory and pids in / and system.slice until a unit needs more).
func hasControllers(dir string) (bool, error) {
	avail, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
	if err != nil {
		return false, err
	}
	enabled, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return false, err
	}
	on := strings.Fields(string(enabled))
	for _, want := range wanted(string(avail)) {
		if !contains(on, want) {
			return false, nil
		}
	}
	return true, nil
}

func delegate(dir string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read controllers of %s: %w", dir, err)
	}
	var b strings.Builder
	for _, name := range wanted(string(avail)) {
		b.WriteString(" +" + name)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), strings.TrimSpace(b.String())); err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	return nil
}

func wanted(available string) []string {
	have := strings.Fields(available)
	var out []string
	for _, name := range v2Controllers {
		if contains(have, name) {
			out = append(out, name)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Cgroup) setPidsV2(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	return writeFile(filepath.Join(c.Dirs[0], "pids.max"), PidsValue(*r.Pids.Limit))
}

func (c *Cgroup) setMemoryV2(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	dir := c.Dirs[0]
	if m.Limit != nil {
		if err := writeFile(filepath.Join(dir, "memory.max"), memoryValue(*m.Limit)); err != nil {
			return err
		}
	}
	// v1's memsw limit counts memory plus swap; v2 limits swap alone.
	if m.Swap != nil {
		swap := *m.Swap
		if swap > 0 && m.Limit != nil && *m.Limit > 0 {
			swap -= *m.Limit
		}
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			if err := writeFile(filepath.Join(dir, "memory.swap.max"), memoryValue(swap)); err != nil {
				return err
			}
		}
	}
	if m.Reservation != nil {
		if err := writeFile(filepath.Join(dir, "memory.low"), memoryValue(*m.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

func memoryValue(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (c *Cgroup) setCPUV2(r *specs.LinuxResources) error {
	cpu := r.CPU
	if cpu == nil {
		return nil
	}
	dir := c.Dirs[0]
	if cpu.Shares != nil && *cpu.Shares > 0 {
		if err := writeFile(filepath.Join(dir, "cpu.weight"), strconv.FormatUint(SharesToWeight(*cpu.Shares), 10)); err != nil {
			return err
		}
	}
	if cpu.Quota != nil || cpu.Period != nil {
		quota := "max"
		if cpu.Quota != nil && *cpu.Quota > 0 {
			quota = strconv.FormatInt(*cpu.Quota, 10)
		}
		period := uint64(100000)
		if cpu.Period != nil && *cpu.Period > 0 {
			period = *cpu.Period
		}
		if err := writeFile(filepath.Join(dir, "cpu.max"), quota+" "+strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	for file, v := range map[string]string{"cpuset.cpus": cpu.Cpus, "cpuset.mems": cpu.Mems} {
		if v != "" {
			if err := writeFile(filepath.Join(dir, file), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// SharesToWeight converts v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000] the way runc and crun do, so both versions rank alike.
func SharesToWeight(shares uint64) uint64 {
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// setDevicesV2 attaches the device program, always: without one a v2
// cgroup allows every device, and a program compiled from no rules denies
// them all. In a cgroup berth did not create, the programs an earlier
// container left there (see releaseDevicesV2) go first.
func (c *Cgroup) setDevicesV2(rules []specs.LinuxDeviceCgroup) error {
	fd, err := unix.Open(c.Dirs[0], unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", c.Dirs[0], err)
	}
	defer unix.Close(fd)
	if !c.owns(c.Dirs[0]) {
		if err := devicefilter.Detach(fd); err != nil {
			return fmt.Errorf("device cgroup: %w", err)
		}
	}
	if err := devicefilter.Attach(fd, rules); err != nil {
		return fmt.Errorf("device cgroup: %w", err)
	}
	return nil
}

// releaseDevicesV2 detaches berth's device programs from a v2 cgroup it
// did not create, when the container is gone, leaving it as it was found:
// the cgroup outlives the container, and so would the programs.
func releaseDevicesV2(dir string) error {
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := devicefilter.Detach(fd); err != nil {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	return nil
}
