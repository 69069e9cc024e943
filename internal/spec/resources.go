package spec

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ResourceOptions are docker run's resource and device options beyond
// --memory, --cpus, --cpu-shares and --pids-limit (issue 13, the devices
// and resources group), as given, under Docker's HostConfig names. They
// are kept as typed so that every run resolves the devices afresh.
type ResourceOptions struct {
	// MemorySwap is memory plus swap ("-1": unlimited swap), which needs
	// --memory; MemoryReservation the soft limit.
	MemorySwap        string `json:"MemorySwap,omitempty"`
	MemoryReservation string `json:"MemoryReservation,omitempty"`
	// MemorySwappiness is 0 to 100 (nil: the kernel's); cgroup v1 only.
	MemorySwappiness *int64 `json:"MemorySwappiness,omitempty"`
	OomKillDisable   bool   `json:"OomKillDisable,omitempty"`
	CpusetCpus       string `json:"CpusetCpus,omitempty"`
	CpusetMems       string `json:"CpusetMems,omitempty"`
	// CPUPeriod and CPUQuota are the CFS period and quota in
	// microseconds (not with --cpus); the realtime pair the RT budget.
	CPUPeriod          int64 `json:"CpuPeriod,omitempty"`
	CPUQuota           int64 `json:"CpuQuota,omitempty"`
	CPURealtimePeriod  int64 `json:"CpuRealtimePeriod,omitempty"`
	CPURealtimeRuntime int64 `json:"CpuRealtimeRuntime,omitempty"`
	// BlkioWeight is 10 to 1000; the device lists are DEVICE:VALUE.
	BlkioWeight          uint16   `json:"BlkioWeight,omitempty"`
	BlkioWeightDevice    []string `json:"BlkioWeightDevice,omitempty"`
	BlkioDeviceReadBps   []string `json:"BlkioDeviceReadBps,omitempty"`
	BlkioDeviceWriteBps  []string `json:"BlkioDeviceWriteBps,omitempty"`
	BlkioDeviceReadIOps  []string `json:"BlkioDeviceReadIOps,omitempty"`
	BlkioDeviceWriteIOps []string `json:"BlkioDeviceWriteIOps,omitempty"`
	// CgroupnsMode is host or private ("" is private); CgroupParent the
	// cgroup (or systemd slice) the container's own is made under.
	CgroupnsMode string `json:"CgroupnsMode,omitempty"`
	CgroupParent string `json:"CgroupParent,omitempty"`
	// Devices are --device HOST[:CONTAINER][:PERMS]; DeviceCgroupRules
	// --device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'.
	Devices           []string `json:"Devices,omitempty"`
	DeviceCgroupRules []string `json:"DeviceCgroupRules,omitempty"`
	// Gpus is --gpus (all, a count, device=ID,...): nvidia.com/gpu CDI
	// devices, resolved by the engine as the CDI names in Devices are.
	Gpus string `json:"Gpus,omitempty"`
}

// IsZero reports whether no option is set: the start path of a container
// without them does nothing more.
func (r *ResourceOptions) IsZero() bool {
	return r.MemorySwap == "" && r.MemoryReservation == "" && r.MemorySwappiness == nil && !r.OomKillDisable &&
		r.CpusetCpus == "" && r.CpusetMems == "" && r.CPUPeriod == 0 && r.CPUQuota == 0 &&
		r.CPURealtimePeriod == 0 && r.CPURealtimeRuntime == 0 && r.BlkioWeight == 0 &&
		len(r.BlkioWeightDevice)+len(r.BlkioDeviceReadBps)+len(r.BlkioDeviceWriteBps)+
			len(r.BlkioDeviceReadIOps)+len(r.BlkioDeviceWriteIOps)+len(r.Devices)+len(r.DeviceCgroupRules) == 0 &&
		r.CgroupnsMode == "" && r.CgroupParent == "" && r.Gpus == ""
}

// applyResourceOptions maps the options into linux.resources, after
// applyResources set --memory and --cpus.
func applyResourceOptions(s *specs.Spec, o RunOptions) error {
	x := &o.ResourceOptions
	if x.IsZero() {
		return nil
	}
	r := s.Linux.Resources
	if err := applyMemoryOptions(r, o); err != nil {
		return err
	}
	if err := applyCPUOptions(r, o); err != nil {
		return err
	}
	if err := applyBlkioOptions(r, x); err != nil {
		return err
	}
	if err := applyCgroupns(s, x.CgroupnsMode); err != nil {
		return err
	}
	return applyDeviceOptions(s, x)
}

func applyMemoryOptions(r *specs.LinuxResources, o RunOptions) error {
	x := &o.ResourceOptions
	if x.MemorySwap == "" && x.MemoryReservation == "" && x.MemorySwappiness == nil && !x.OomKillDisable {
		return nil
	}
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	m := r.Memory
	if x.MemorySwap != "" {
		swap, err := ParseMemorySwap(x.MemorySwap, m.Limit)
		if err != nil {
			return err
		}
		m.Swap = &swap
	}
	if x.MemoryReservation != "" {
		v, err := ParseSize(x.MemoryReservation)
		if err != nil {
			return invalidOpt("invalid --memory-reservation: %v", err)
		}
		if v < MinMemory {
			return invalidOpt("invalid --memory-reservation %q: the minimum is 6m", x.MemoryReservation)
		}
		if m.Limit != nil && *m.Limit > 0 && v > *m.Limit {
			return invalidOpt("invalid --memory-reservation %q: it may not be above --memory", x.MemoryReservation)
		}
		m.Reservation = &v
	}
	if p := x.MemorySwappiness; p != nil && *p != -1 {
		if *p < 0 || *p > 100 {
			return invalidOpt("invalid --memory-swappiness %d: use 0 to 100 (or -1 for the kernel's)", *p)
		}
		v := uint64(*p)
		m.Swappiness = &v
	}
	if x.OomKillDisable {
		yes := true
		m.DisableOOMKiller = &yes
	}
	return nil
}

// ParseMemorySwap reads --memory-swap as Docker does: memory plus swap,
// -1 for unlimited swap, not without --memory and not below it.
func ParseMemorySwap(s string, limit *int64) (int64, error) {
	if limit == nil || *limit <= 0 {
		return 0, invalidOpt("--memory-swap %s needs --memory: it is memory plus swap", s)
	}
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	v, err := ParseSize(s)
	if err != nil {
		return 0, invalidOpt("invalid --memory-swap: %v (or -1 for unlimited swap)", err)
	}
	if v < *limit {
		return 0, invalidOpt("invalid --memory-swap %q: it is memory plus swap, so it may not be below --memory", s)
	}
	return v, nil
}

func applyCPUOptions(r *specs.LinuxResources, o RunOptions) error {
	x := &o.ResourceOptions
	if x.CpusetCpus == "" && x.CpusetMems == "" && x.CPUPeriod == 0 && x.CPUQuota == 0 &&
		x.CPURealtimePeriod == 0 && x.CPURealtimeRuntime == 0 {
		return nil
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	c := r.CPU
	if o.CPUs != "" && (x.CPUPeriod != 0 || x.CPUQuota != 0) {
		return invalidOpt("--cpus sets the CFS period and quota: give --cpus, or --cpu-period and --cpu-quota, not both")
	}
	if x.CPUPeriod != 0 {
		if x.CPUPeriod < 1000 || x.CPUPeriod > 1000000 {
			return invalidOpt("invalid --cpu-period %d: use 1000 to 1000000 microseconds", x.CPUPeriod)
		}
		p := uint64(x.CPUPeriod)
		c.Period = &p
	}
	if x.CPUQuota != 0 {
		if x.CPUQuota < 1000 && x.CPUQuota != -1 {
			return invalidOpt("invalid --cpu-quota %d: use at least 1000 microseconds, or -1 for none", x.CPUQuota)
		}
		q := x.CPUQuota
		c.Quota = &q
	}
	if err := applyRealtime(c, x); err != nil {
		return err
	}
	for _, set := range []struct{ flag, value, file string }{
		{"--cpuset-cpus", x.CpusetCpus, "/sys/devices/system/cpu/online"},
		{"--cpuset-mems", x.CpusetMems, "/sys/devices/system/node/online"},
	} {
		if set.value != "" {
			if err := CheckCPUSet(set.flag, set.value, set.file); err != nil {
				return err
			}
		}
	}
	c.Cpus, c.Mems = x.CpusetCpus, x.CpusetMems
	return nil
}

func applyRealtime(c *specs.LinuxCPU, x *ResourceOptions) error {
	if x.CPURealtimePeriod == 0 && x.CPURealtimeRuntime == 0 {
		return nil
	}
	if x.CPURealtimePeriod < 0 || x.CPURealtimeRuntime < -1 {
		return invalidOpt("invalid --cpu-rt-period or --cpu-rt-runtime: give microseconds")
	}
	if x.CPURealtimePeriod != 0 && x.CPURealtimeRuntime > x.CPURealtimePeriod {
		return invalidOpt("invalid --cpu-rt-runtime %d: it may not be above --cpu-rt-period %d", x.CPURealtimeRuntime, x.CPURealtimePeriod)
	}
	if x.CPURealtimePeriod != 0 {
		p := uint64(x.CPURealtimePeriod)
		c.RealtimePeriod = &p
	}
	if x.CPURealtimeRuntime != 0 {
		rt := x.CPURealtimeRuntime
		c.RealtimeRuntime = &rt
	}
	return nil
}

// ParseCPUList reads a cpuset list such as 0-3,5 into its members.
func ParseCPUList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("%q is not a list such as 0-3,5", s)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// CheckCPUSet refuses a cpuset list that is malformed or names CPUs (or
// memory nodes) the host does not have online, as listed in file (a host
// without NUMA has no node list: node 0 only).
func CheckCPUSet(flag, value, file string) error {
	want, err := ParseCPUList(value)
	if err != nil {
		return invalidOpt("invalid %s: %v", flag, err)
	}
	online := "0"
	if b, err := os.ReadFile(file); err == nil {
		online = strings.TrimSpace(string(b))
	}
	have, err := ParseCPUList(online)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	for i := range want {
		if !have[i] {
			return invalidOpt("invalid %s %s: %d is not online on this host (available: %s)", flag, value, i, online)
		}
	}
	return nil
}

func applyBlkioOptions(r *specs.LinuxResources, x *ResourceOptions) error {
	if x.BlkioWeight == 0 && len(x.BlkioWeightDevice)+len(x.BlkioDeviceReadBps)+len(x.BlkioDeviceWriteBps)+
		len(x.BlkioDeviceReadIOps)+len(x.BlkioDeviceWriteIOps) == 0 {
		return nil
	}
	b := &specs.LinuxBlockIO{}
	if x.BlkioWeight != 0 {
		if x.BlkioWeight < 10 || x.BlkioWeight > 1000 {
			return invalidOpt("invalid --blkio-weight %d: use 10 to 1000", x.BlkioWeight)
		}
		w := x.BlkioWeight
		b.Weight = &w
	}
	for _, v := range x.BlkioWeightDevice {
		dev, rate, err := parseDeviceValue("--blkio-weight-device", v, false)
		if err != nil {
			return err
		}
		if rate < 10 || rate > 1000 {
			return invalidOpt("invalid --blkio-weight-device %q: the weight is 10 to 1000", v)
		}
		w := uint16(rate)
		b.WeightDevice = append(b.WeightDevice, specs.LinuxWeightDevice{LinuxBlockIODevice: dev, Weight: &w})
	}
	for _, t := range []struct {
		flag   string
		values []string
		bytes  bool
		out    *[]specs.LinuxThrottleDevice
	}{
		{"--device-read-bps", x.BlkioDeviceReadBps, true, &b.ThrottleReadBpsDevice},
		{"--device-write-bps", x.BlkioDeviceWriteBps, true, &b.ThrottleWriteBpsDevice},
		{"--device-read-iops", x.BlkioDeviceReadIOps, false, &b.ThrottleReadIOPSDevice},
		{"--device-write-iops", x.BlkioDeviceWriteIOps, false, &b.ThrottleWriteIOPSDevice},
	} {
		for _, v := range t.values {
			dev, rate, err := parseDeviceValue(t.flag, v, t.bytes)
			if err != nil {
				return err
			}
			*t.out = append(*t.out, specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: rate})
		}
	}
	r.BlockIO = b
	return nil
}

// ParseDeviceRate splits DEVICE:RATE; the rate is bytes with Docker's
// units (kb, mb, gb: binary) when bytes, else a plain count (IO/s).
func ParseDeviceRate(flag, v string, bytes bool) (path string, rate uint64, err error) {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 {
		return "", 0, invalidOpt("invalid %s %q: use DEVICE:RATE, e.g. /dev/sda:1mb", flag, v)
	}
	path, value := v[:i], v[i+1:]
	if !strings.HasPrefix(path, "/") {
		return "", 0, invalidOpt("invalid %s %q: the device is an absolute path such as /dev/sda", flag, v)
	}
	if bytes {
		n, err := ParseSize(value)
		if err != nil || n < 0 {
			return "", 0, invalidOpt("invalid %s %q: the rate is bytes per second, such as 1mb or 512k", flag, v)
		}
		return path, uint64(n), nil
	}
	n, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return "", 0, invalidOpt("invalid %s %q: the rate is a number of operations per second", flag, v)
	}
	return path, n, nil
}

// parseDeviceValue is ParseDeviceRate with the device resolved to its
// numbers: it must be a block device on the host.
func parseDeviceValue(flag, v string, bytes bool) (specs.LinuxBlockIODevice, uint64, error) {
	path, rate, err := ParseDeviceRate(flag, v, bytes)
	if err != nil {
		return specs.LinuxBlockIODevice{}, 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return specs.LinuxBlockIODevice{}, 0, invalidOpt("invalid %s %q: %s is not a block device on this host", flag, v, path)
	}
	if rate > math.MaxInt64 {
		return specs.LinuxBlockIODevice{}, 0, invalidOpt("invalid %s %q: the rate is too large", flag, v)
	}
	return specs.LinuxBlockIODevice{Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev))}, rate, nil
}

// applyCgroupns is --cgroupns: private (berth's default, on v1 too) or
// host (no cgroup namespace of its own).
func applyCgroupns(s *specs.Spec, mode string) error {
	switch mode {
	case "", "private":
		return nil
	case "host":
		kept := s.Linux.Namespaces[:0]
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.CgroupNamespace {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
		return nil
	}
	return invalidOpt("invalid --cgroupns %q: use host or private", mode)
}

// ApplyResources applies every resource option of o to s; for checks
// before a container is made.
func ApplyResources(s *specs.Spec, o RunOptions) error { return applyResources(s, o) }
