package main

import (
	"github.com/berth-runtime/berth/internal/errdefs"
	"github.com/berth-runtime/berth/internal/managed"
	"github.com/spf13/pflag"
)

// resFlags are docker run's device and resource options beyond --memory,
// --cpus, --cpu-shares and --pids-limit, and the Windows-only ones berth
// refuses.
type resFlags struct {
	memorySwap, memoryReservation, kernelMemory string
	memorySwappiness                            int64
	oomKillDisable                              bool
	cpusetCpus, cpusetMems                      string
	cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRun  int64
	blkioWeight                                 uint16
	blkioWeightDevice, readBps, writeBps        []string
	readIOps, writeIOps                         []string
	cgroupns, cgroupParent                      string
	devices, deviceCgroupRules                  []string
	gpus                                        string
	// Windows-only: refused.
	cpuCount, cpuPercent      int64
	ioMaxBandwidth, isolation string
	ioMaxIOps                 uint64
}

func addResFlags(fl *pflag.FlagSet, r *resFlags) {
	fl.StringVar(&r.memorySwap, "memory-swap", "", "memory plus swap limit (e.g. 1g); -1 for unlimited swap; needs --memory")
	fl.StringVar(&r.memoryReservation, "memory-reservation", "", "memory soft limit (e.g. 128m)")
	fl.Int64Var(&r.memorySwappiness, "memory-swappiness", -1, "swappiness 0 to 100 (cgroup v1; -1: the kernel's)")
	fl.BoolVar(&r.oomKillDisable, "oom-kill-disable", false, "disable the OOM killer (cgroup v1; ignored on v2 with a warning)")
	fl.StringVar(&r.kernelMemory, "kernel-memory", "", "refused: deprecated in Docker, not supported")
	fl.StringVar(&r.cpusetCpus, "cpuset-cpus", "", "CPUs the container may use (e.g. 0-2,4)")
	fl.StringVar(&r.cpusetMems, "cpuset-mems", "", "memory nodes the container may use (e.g. 0)")
	fl.Int64Var(&r.cpuPeriod, "cpu-period", 0, "CFS period in microseconds (not with --cpus)")
	fl.Int64Var(&r.cpuQuota, "cpu-quota", 0, "CFS quota in microseconds per period (not with --cpus)")
	fl.Int64Var(&r.cpuRtPeriod, "cpu-rt-period", 0, "realtime period in microseconds (cgroup v1 with RT group scheduling)")
	fl.Int64Var(&r.cpuRtRun, "cpu-rt-runtime", 0, "realtime runtime in microseconds per period")
	fl.Uint16Var(&r.blkioWeight, "blkio-weight", 0, "block I/O weight, 10 to 1000")
	stringArrayVarP(fl, &r.blkioWeightDevice, "blkio-weight-device", "", "block I/O weight of a device, DEVICE:WEIGHT")
	stringArrayVarP(fl, &r.readBps, "device-read-bps", "", "read rate limit of a device, DEVICE:RATE (e.g. /dev/sda:1mb)")
	stringArrayVarP(fl, &r.writeBps, "device-write-bps", "", "write rate limit of a device, DEVICE:RATE")
	stringArrayVarP(fl, &r.readIOps, "device-read-iops", "", "read operations per second of a device, DEVICE:N")
	stringArrayVarP(fl, &r.writeIOps, "device-write-iops", "", "write operations per second of a device, DEVICE:N")
	fl.StringVar(&r.cgroupns, "cgroupns", "", "cgroup namespace: private (default) or host")
	fl.StringVar(&r.cgroupParent, "cgroup-parent", "", "cgroup (or systemd slice, e.g. my.slice) to make the container's cgroup in")
	stringArrayVarP(fl, &r.devices, "device", "", "add a host device HOST[:CONTAINER][:rwm], or a CDI device vendor.com/class=name")
	stringArrayVarP(fl, &r.deviceCgroupRules, "device-cgroup-rule", "", "allow devices in the device cgroup: 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:3 rwm'")
	fl.StringVar(&r.gpus, "gpus", "", "GPUs through CDI (nvidia.com/gpu): all, a count, or device=ID[,ID]")
	fl.Int64Var(&r.cpuCount, "cpu-count", 0, "refused: Windows only")
	fl.Int64Var(&r.cpuPercent, "cpu-percent", 0, "refused: Windows only")
	fl.StringVar(&r.ioMaxBandwidth, "io-maxbandwidth", "", "refused: Windows only")
	fl.Uint64Var(&r.ioMaxIOps, "io-maxiops", 0, "refused: Windows only")
	fl.StringVar(&r.isolation, "isolation", "", "refused: Windows only (container isolation technology)")
}

// apply stores the options in cfg, refusing the Windows-only ones and
// --kernel-memory first. They are checked with the rest (CheckConfig).
func (r *resFlags) apply(cfg *managed.Config, fl *pflag.FlagSet) error {
	for _, name := range []string{"cpu-count", "cpu-percent", "io-maxbandwidth", "io-maxiops", "isolation"} {
		if fl.Changed(name) {
			return errdefs.New(errdefs.ErrInvalidArgument, "--%s is a Windows containers option: Linux containers have no such setting (use --cpus, --cpuset-cpus or --device-*-bps/iops)", name)
		}
	}
	if fl.Changed("kernel-memory") {
		return errdefs.New(errdefs.ErrInvalidArgument, "--kernel-memory is not supported: deprecated in Docker, and kernel memory is counted in --memory by current kernels")
	}
	x := &cfg.ResourceOptions
	x.MemorySwap, x.MemoryReservation, x.OomKillDisable = r.memorySwap, r.memoryReservation, r.oomKillDisable
	if fl.Changed("memory-swappiness") && r.memorySwappiness != -1 {
		v := r.memorySwappiness
		x.MemorySwappiness = &v
	}
	x.CpusetCpus, x.CpusetMems, x.CPUPeriod, x.CPUQuota = r.cpusetCpus, r.cpusetMems, r.cpuPeriod, r.cpuQuota
	x.CPURealtimePeriod, x.CPURealtimeRuntime, x.BlkioWeight = r.cpuRtPeriod, r.cpuRtRun, r.blkioWeight
	x.BlkioWeightDevice, x.BlkioDeviceReadBps, x.BlkioDeviceWriteBps = r.blkioWeightDevice, r.readBps, r.writeBps
	x.BlkioDeviceReadIOps, x.BlkioDeviceWriteIOps = r.readIOps, r.writeIOps
	x.CgroupnsMode, x.CgroupParent = r.cgroupns, r.cgroupParent
	x.Devices, x.DeviceCgroupRules = r.devices, r.deviceCgroupRules
	x.Gpus = r.gpus
	return nil
}
