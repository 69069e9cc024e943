// Package cpubusy gives a short-lived Go process one P when the machine's
// CPUs were all taken as it started.
//
// Importing it (for its side effect) is all a command does. A Go process
// runs its goroutines on GOMAXPROCS Ps, one per CPU by default, and each
// time a goroutine is readied while a P is idle the runtime wakes a
// thread that spins looking for work. When the start has a CPU to itself
// the second P pays: work overlaps (berth-oci with GOMAXPROCS=1 took 1.05
// of the time of one start, docs/bench.md). When every CPU already has a
// task waiting for it, as when an engine starts fifty containers at once,
// the second P buys no parallelism, and its spinning and handoffs take CPU
// from the other starts: fifty berth-oci starts at once took 0.89–0.92 of
// the time with one P (docs/bench.md). So the process looks once, as it starts, at how many
// tasks the kernel has runnable (/proc/loadavg's fourth field, an instant
// count, not an average) and takes one P if they are more than twice the
// CPUs it may run on.
//
// A GOMAXPROCS in the environment is the user's choice and is left alone.
package cpubusy

import (
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// busyAt is how many runnable tasks per CPU make the CPUs busy. The count
// includes this process's own thread and the kernel's workers, a few of
// which are runnable for a moment after each container's exit: between
// back-to-back starts on 2 CPUs one in five saw 3 or more, one in seventy
// 5 or more; fifty starts at once saw 9 or more nearly every time.
const busyAt = 2

func init() {
	if _, set := syscall.Getenv("GOMAXPROCS"); set {
		return
	}
	running, ok := runnable()
	if ok && busy(running, runtime.NumCPU()) {
		runtime.GOMAXPROCS(1)
	}
}

// busy reports whether running runnable tasks keep cpus CPUs busy.
func busy(running, cpus int) bool { return running > busyAt*cpus }

// runnable reads the number of runnable tasks from /proc/loadavg.
func runnable() (int, bool) {
	fd, err := syscall.Open("/proc/loadavg", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	var buf [128]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return 0, false
	}
	return parseRunnable(buf[:n])
}

// parseRunnable reads "0.50 0.60 0.70 3/345 12345\n": the number before
// the slash, the tasks runnable at that instant.
func parseRunnable(b []byte) (int, bool) {
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0, false
	}
	running, _, ok := strings.Cut(f[3], "/")
	n, err := strconv.Atoi(running)
	if !ok || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
