package initproc

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resetSignals gives the program every signal's default action and an
// empty signal mask, as a process a daemon started would have: what
// berth's caller ignored or blocked (nohup ignores SIGHUP, a shell's
// background job SIGINT) is nothing of the container's, and runc and crun
// reset them too. Of the dispositions only an ignored one survives
// execve, and Go's runtime keeps the two it may inherit so (SIGHUP,
// SIGINT) ignored until the program asks for them; the mask survives
// too, and the runtime leaves blocked whatever it need not take.
func resetSignals() error {
	var old, dfl [4]uint64 // a kernel struct sigaction: the handler first
	for sig := 1; sig < 65; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		if rtSigaction(sig, nil, &old) != nil || old[0] != 1 { // SIG_IGN
			continue
		}
		if err := rtSigaction(sig, &dfl, nil); err != nil {
			return fmt.Errorf("reset signal %d: %w", sig, err)
		}
	}
	var none unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil); err != nil {
		return fmt.Errorf("reset the signal mask: %w", err)
	}
	return nil
}

// rtSigaction is rt_sigaction(2) with the kernel's struct, nil for none.
func rtSigaction(sig int, act, old *[4]uint64) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
