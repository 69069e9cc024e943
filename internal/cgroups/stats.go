package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are a container's resource counters.
type Stats struct {
	CPUUsageNanos uint64 `json:"cpuUsageNanos"`
	MemoryUsage   uint64 `json:"memoryUsage"`
	MemoryLimit   uint64 `json:"memoryLimit"`
	OOMKills      uint64 `json:"oomKills"`
	Pids          uint64 `json:"pids"`
	PidsLimit     uint64 `json:"pidsLimit"`
}

// Stats reads the cgroup's counters. Missing files read as zero.
func (c *Cgroup) Stats() Stats {
	var s Stats
	if c.Version == V2 {
		dir := c.Dirs[0]
		if usec, err := readKey(filepath.Join(dir, "cpu.stat"), "usage_usec"); err == nil {
			s.CPUUsageNanos = uint64(usec) * 1000
		}
		s.MemoryUsage = readUint(filepath.Join(dir, "memory.current"))
		s.MemoryLimit = readUint(filepath.Join(dir, "memory.max"))
		if n, err := readKey(filepath.Join(dir, "memory.events"), "oom_kill"); err == nil {
			s.OOMKills = uint64(n)
		}
		s.Pids = readUint(filepath.Join(dir, "pids.current"))
		s.PidsLimit = readUint(filepath.Join(dir, "pids.max"))
		return s
	}
	s.CPUUsageNanos = readUint(filepath.Join(c.dirFor("cpuacct"), "cpuacct.usage"))
	mem := c.dirFor("memory")
	s.MemoryUsage = readUint(filepath.Join(mem, "memory.usage_in_bytes"))
	s.MemoryLimit = readUint(filepath.Join(mem, "memory.limit_in_bytes"))
	if n, err := readKey(filepath.Join(mem, "memory.oom_control"), "oom_kill"); err == nil {
		s.OOMKills = uint64(n)
	}
	s.Pids = readUint(filepath.Join(c.dirFor("pids"), "pids.current"))
	s.PidsLimit = readUint(filepath.Join(c.dirFor("pids"), "pids.max"))
	return s
}

// readUint reads a file holding one number; "max" and errors read as 0.
func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
