package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads prog into the calling thread with
// seccomp(SECCOMP_SET_MODE_FILTER, flags). flags may hold
// SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW and
// SECCOMP_FILTER_FLAG_NEW_LISTENER (see Flags); TSYNC is refused. With
// NEW_LISTENER, listener is the filter's notification descriptor
// (close-on-exec), for the seccomp agent; otherwise it is -1.
//
// The filter binds only the calling thread and what it execs, so the
// caller holds runtime.LockOSThread and execs from the same goroutine. The
// kernel requires no_new_privs or CAP_SYS_ADMIN; setting no_new_privs is
// the caller's job. Install cannot be undone: filters only stack.
func Install(prog []unix.SockFilter, flags uint) (listener int, err error) {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return -1, fmt.Errorf("seccomp: install: the program has %d instructions, want 1 to %d", len(prog), unix.BPF_MAXINSNS)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		return -1, errors.New("seccomp: install: SECCOMP_FILTER_FLAG_TSYNC is not supported: the filter belongs to the thread that execs")
	}
	if rest := flags &^ (unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER); rest != 0 {
		return -1, fmt.Errorf("seccomp: install: unsupported flags %#x", rest)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno == unix.EACCES {
		return -1, fmt.Errorf("seccomp: install: %w (set no_new_privs first, or keep CAP_SYS_ADMIN)", errno)
	}
	if errno != 0 {
		return -1, fmt.Errorf("seccomp: install: %w", errno)
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		return -1, nil
	}
	return int(r), nil
}
