package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the limits of an existing cgroup (berth-oci update).
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if c.IsNone() {
		return CheckNoLimits(r)
	}
	if c.Version == V2 {
		return c.applyV2(r)
	}
	return c.applyV1(r)
}

// write sets a cgroup file, and says which setting failed.
type writes struct {
	dir string
	err error
}

func (w *writes) set(file, value, setting string) {
	if w.err != nil {
		return
	}
	if w.dir == "" {
		w.err = fmt.Errorf("%s: the controller for %s is not available on this host", setting, file)
		return
	}
	if err := writeFile(filepath.Join(w.dir, file), value); err != nil {
		w.err = fmt.Errorf("%s: %w", setting, err)
	}
}

// setExtraV1 writes the less common v1 settings.
func (c *Cgroup) setExtraV1(r *specs.LinuxResources) error {
	if m := r.Memory; m != nil {
		w := &writes{dir: c.dirFor("memory")}
		if m.Swappiness != nil {
			w.set("memory.swappiness", strconv.FormatUint(*m.Swappiness, 10), "memory.swappiness")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			w.set("memory.oom_control", "1", "memory.disableOOMKiller")
		}
		if w.err != nil {
			return w.err
		}
	}
	if cpu := r.CPU; cpu != nil {
		w := &writes{dir: c.dirFor("cpu")}
		if cpu.RealtimePeriod != nil || cpu.RealtimeRuntime != nil {
			var period, runtime *string
			if cpu.RealtimePeriod != nil {
				v := strconv.FormatUint(*cpu.RealtimePeriod, 10)
				period = &v
			}
			if cpu.RealtimeRuntime != nil {
				v := strconv.FormatInt(*cpu.RealtimeRuntime, 10)
				runtime = &v
			}
			if w.dir == "" {
				return fmt.Errorf("cpu.realtimePeriod, realtimeRuntime: the cpu controller is not available on this host")
			}
			if err := writePair(w.dir, "cpu.rt_period_us", period, "cpu.rt_runtime_us", runtime); err != nil {
				return fmt.Errorf("cpu.realtimePeriod, realtimeRuntime: %w", err)
			}
		}
		if cpu.Burst != nil {
			w.set("cpu.cfs_burst_us", strconv.FormatUint(*cpu.Burst, 10), "cpu.burst")
		}
		if cpu.Idle != nil {
			w.set("cpu.idle", strconv.FormatInt(*cpu.Idle, 10), "cpu.idle")
		}
		if w.err != nil {
			return w.err
		}
	}
	if err := c.setBlkioV1(r.BlockIO); err != nil {
		return err
	}
	if err := c.setHugetlb(r.HugepageLimits, c.dirFor("hugetlb"), "limit_in_bytes"); err != nil {
		return err
	}
	if n := r.Network; n != nil {
		w := &writes{dir: c.dirFor("net_cls")}
		if n.ClassID != nil {
			w.set("net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10), "network.classID")
		}
		if len(n.Priorities) > 0 && w.err == nil {
			w.dir = c.dirFor("net_prio")
			for _, p := range n.Priorities {
				w.set("net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority), "network.priorities")
			}
		}
		if w.err != nil {
			return w.err
		}
	}
	if len(r.Unified) > 0 {
		return fmt.Errorf("%w: the host runs v1", ErrV1Unified)
	}
	return rdma(r)
}

func rdma(r *specs.LinuxResources) error {
	if len(r.Rdma) > 0 {
		return fmt.Errorf("resources.rdma is not supported")
	}
	return nil
}

func (c *Cgroup) setBlkioV1(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	w := &writes{dir: c.dirFor("blkio")}
	weightFile := "blkio.weight"
	if _, err := os.Stat(filepath.Join(w.dir, weightFile)); err != nil {
		weightFile = "blkio.bfq.weight" // kernels with BFQ only
	}
	if b.Weight != nil {
		w.set(weightFile, strconv.Itoa(int(*b.Weight)), "blockIO.weight")
	}
	if b.LeafWeight != nil {
		w.set("blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)), "blockIO.leafWeight")
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			w.set(weightFile+"_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight), "blockIO.weightDevice")
		}
		if d.LeafWeight != nil {
			w.set("blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.LeafWeight), "blockIO.weightDevice")
		}
	}
	for file, list := range map[string][]specs.LinuxThrottleDevice{
		"blkio.throttle.read_bps_device": b.ThrottleReadBpsDevice, "blkio.throttle.write_bps_device": b.ThrottleWriteBpsDevice,
		"blkio.throttle.read_iops_device": b.ThrottleReadIOPSDevice, "blkio.throttle.write_iops_device": b.ThrottleWriteIOPSDevice,
	} {
		for _, d := range list {
			w.set(file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate), "blockIO throttle")
		}
	}
	return w.err
}

func (c *Cgroup) setHugetlb(limits []specs.LinuxHugepageLimit, dir, suffix string) error {
	w := &writes{dir: dir}
	for _, l := range limits {
		if strings.ContainsAny(l.Pagesize, "/.") {
			return fmt.Errorf("hugepageLimits: bad page size %q", l.Pagesize)
		}
		w.set("hugetlb."+l.Pagesize+"."+suffix, strconv.FormatUint(l.Limit, 10), "hugepageLimits "+l.Pagesize)
	}
	return w.err
}

// setExtraV2 writes the less common v2 settings.
func (c *Cgroup) setExtraV2(r *specs.LinuxResources) error {
	dir := c.Dirs[0]
	w := &writes{dir: dir}
	if m := r.Memory; m != nil {
		if m.Swappiness != nil {
			return fmt.Errorf("memory.swappiness is not supported on cgroup v2")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			return fmt.Errorf("memory.disableOOMKiller is not supported on cgroup v2")
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.RealtimeRuntime != nil || cpu.RealtimePeriod != nil {
			return fmt.Errorf("cpu.realtimeRuntime and realtimePeriod are not supported on cgroup v2")
		}
		if cpu.Burst != nil {
			w.set("cpu.max.burst", strconv.FormatUint(*cpu.Burst, 10), "cpu.burst")
		}
		if cpu.Idle != nil {
			w.set("cpu.idle", strconv.FormatInt(*cpu.Idle, 10), "cpu.idle")
		}
	}
	if b := r.BlockIO; b != nil {
		c.setIOV2(w, b)
	}
	if w.err != nil {
		return w.err
	}
	if err := c.setHugetlb(r.HugepageLimits, dir, "max"); err != nil {
		return err
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		return fmt.Errorf("resources.network (net_cls, net_prio) does not exist on cgroup v2")
	}
	for key, value := range r.Unified {
		if strings.ContainsAny(key, "/") || key == "" || strings.HasPrefix(key, ".") {
			return fmt.Errorf("resources.unified: bad key %q", key)
		}
		w.set(key, value, "resources.unified "+key)
	}
	if w.err != nil {
		return w.err
	}
	return rdma(r)
}

func (c *Cgroup) setIOV2(w *writes, b *specs.LinuxBlockIO) {
	weightFile := "io.weight"
	if _, err := os.Stat(filepath.Join(w.dir, weightFile)); err != nil {
		weightFile = "io.bfq.weight"
	}
	if b.Weight != nil {
		w.set(weightFile, "default "+strconv.Itoa(int(*b.Weight)), "blockIO.weight")
	}
	if b.LeafWeight != nil {
		w.err = fmt.Errorf("blockIO.leafWeight is not supported on cgroup v2")
		return
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			w.set(weightFile, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight), "blockIO.weightDevice")
		}
	}
	for key, list := range map[string][]specs.LinuxThrottleDevice{
		"rbps": b.ThrottleReadBpsDevice, "wbps": b.ThrottleWriteBpsDevice,
		"riops": b.ThrottleReadIOPSDevice, "wiops": b.ThrottleWriteIOPSDevice,
	} {
		for _, d := range list {
			w.set("io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, key, d.Rate), "blockIO throttle")
		}
	}
}
