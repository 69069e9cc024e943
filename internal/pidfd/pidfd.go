// Package pidfd names a process by a pidfd rather than by its PID, so that
// a signal, a wait or a setns meant for a container process can never reach
// a later process that happens to reuse the PID. A PID read from a record
// is turned into a pidfd once, and checked against the start time recorded
// with it; from then on the descriptor, not the number, is the process.
package pidfd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrGone means the process has exited (or its PID now belongs to another
// process).
var ErrGone = errors.New("process is gone")

// Process is a process held by a pidfd.
type Process struct {
	Pid int
	fd  int
}

// Open returns a pidfd for pid, provided the process that holds the PID
// started at start (clock ticks since boot, from StartTime; 0 skips the
// check). The check comes after the open: a pidfd names the process that
// had the PID at that moment, so a matching start time afterwards proves it
// is the recorded one.
func Open(pid int, start uint64) (*Process, error) {
	if pid <= 0 {
		return nil, ErrGone
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if start != 0 {
		st, state, err := Stat(pid)
		if err != nil || st != start || state == "Z" || state == "X" {
			unix.Close(fd)
			return nil, ErrGone
		}
	}
	return &Process{Pid: pid, fd: fd}, nil
}

// FromFD wraps a pidfd this process already holds (from clone), taking
// ownership of it.
func FromFD(fd, pid int) *Process { return &Process{Pid: pid, fd: fd} }

// Fd is the pidfd, for setns or to hand to a child.
func (p *Process) Fd() int { return p.fd }

// Signal sends sig to the process; ErrGone if it has exited.
func (p *Process) Signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(p.fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("signal %d to %d: %w", sig, p.Pid, err)
	}
	return nil
}

// Wait waits up to timeoutMs milliseconds (-1: no limit) for the process
// to exit and reports whether it did. It does not reap it.
func (p *Process) Wait(timeoutMs int) bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeoutMs)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}

// Reap waits for the process, a child of this one, to exit and reaps it.
// The wait is parked in Go's poller on the pidfd, which turns readable at
// the exit, not in a wait4 system call: a goroutine blocked in a system
// call keeps its P (Go's scheduler context) until the runtime's monitor
// takes it back, tens to hundreds of microseconds later, and goroutines
// queued behind it wait that long. berth run's record update, queued as its
// program started, waited so until the program's exit, then delayed the
// exit's handling by 0.25 ms (docs/bench.md). An error means the poller
// could not take the pidfd: the caller waits by PID instead.
func (p *Process) Reap() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	fd, err := unix.FcntlInt(uintptr(p.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return ws, fmt.Errorf("dup pidfd: %w", err)
	}
	// The poller takes only non-blocking descriptors. The flag is the
	// open file's, shared with p.fd, and changes only how waitid on it
	// behaves, which nothing here uses.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return ws, fmt.Errorf("pidfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return ws, err
	}
	var waitErr error
	err = rc.Read(func(uintptr) bool {
		for {
			pid, err := unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			waitErr = err
			// 0: still running; the poller waits for the pidfd.
			return pid != 0 || err != nil
		}
	})
	if err == nil {
		err = waitErr
	}
	return ws, err
}

// Close releases the pidfd.
func (p *Process) Close() {
	if p != nil && p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// SelfStart is this process's start time (Stat), read once: the engine
// names a container's monitor by PID and start time, and its collection
// hints name their maker the same way.
var SelfStart = sync.OnceValue(func() uint64 {
	start, _, _ := Stat(os.Getpid())
	return start
})

// Stat returns a process's start time (clock ticks since boot), which tells
// it from a later process that reuses its PID, and its state letter ("R",
// "S", "Z" for a zombie...).
func Stat(pid int) (start uint64, state string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", err
	}
	// The command name may hold spaces and parentheses: fields are counted
	// from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0], err
}
