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
	BlockRead     uint64 `json:"blockRead"`  // bytes
	BlockWrite    uint64 `json:"blockWrite"` // bytes
}

// Stats reads the cgroup's counters. Missing files read as zero.
func (c *Cgroup) Stats() Stats {
	var s Stats
	if c.IsNone() {
		return s
	}
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
		s.BlockRead, s.BlockWrite = ioStatV2(filepath.Join(dir, "io.stat"))
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
	s.BlockRead, s.BlockWrite = ioStatV1(filepath.Join(c.dirFor("blkio"), "blkio.throttle.io_service_bytes"))
	return s
}

// ioStatV2 sums rbytes and wbytes over the devices of an io.stat file:
// "8:0 rbytes=1 wbytes=2 rios=3 ...".
func ioStatV2(path string) (read, write uint64) {
	b, _ := os.ReadFile(path)
	for _, field := range strings.Fields(string(b)) {
		k, v, ok := strings.Cut(field, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "rbytes":
			read += n
		case "wbytes":
			write += n
		}
	}
	return read, write
}

// ioStatV1 sums the Read and Write lines of a v1 blkio byte count file:
// "8:0 Read 4096".
func ioStatV1(path string) (read, write uint64) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write
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
