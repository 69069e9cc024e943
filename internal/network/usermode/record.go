package usermode

import (
	"os"
	"strconv"
	"strings"

	"github.com/berth-runtime/berth/internal/pidfd"
	"golang.org/x/sys/unix"
)

// Record is what a container's record keeps of its user-mode stack: berth
// has no daemon, and the stack outlives a berth process killed with
// SIGKILL (pasta has no exit pipe, and slirp4netns's only tells it once
// its monitor's children are gone too), so whatever berth command runs
// next ends it by this record (Collect).
type Record struct {
	Tool string `json:"Tool"`
	Pid  int    `json:"Pid"`
	// Start is the process's start time (clock ticks since boot), which
	// tells it from a later process that reuses its PID.
	Start uint64 `json:"Start"`
	// Files are the stack's own files (API socket, PID file, log).
	Files []string `json:"Files,omitempty"`
}

// Collect ends the stack's process if it still runs, checked to be the
// recorded one (PID and start time, through a pidfd) and to run tool,
// and removes its files.
func Collect(r *Record) {
	if r == nil || !IsTool(r.Tool) {
		return
	}
	if r.Start == 0 {
		return // no start time: its PID alone may name another process
	}
	if p, err := pidfd.Open(r.Pid, r.Start); err == nil {
		if runs(r.Pid, r.Tool) {
			_ = p.Signal(unix.SIGKILL)
			p.Wait(2000)
		}
		p.Close()
	}
	for _, f := range r.Files {
		_ = os.Remove(f)
	}
}

// runs reports whether process pid runs tool. pasta and passt are one
// program, which re-executes its build for the CPU (passt.avx2).
func runs(pid int, tool string) bool {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	comm := strings.TrimSpace(string(b))
	if tool == Pasta {
		return strings.HasPrefix(comm, "pasta") || strings.HasPrefix(comm, "passt")
	}
	return comm == tool
}

// short is the first 12 characters of a container ID, naming its files.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
