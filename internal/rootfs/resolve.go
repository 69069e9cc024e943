package rootfs

import (
	"errors"
	"os"
	"sync/atomic"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2 turned out to be missing (Linux < 5.6)
// or refused.
var noOpenat2 atomic.Bool

// resolveInRoot opens p inside root as an O_PATH handle (with extra
// flags, such as O_DIRECTORY), symlinks and ".." confined to root and
// magic links refused: openat2 RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, as
// pathrs-lite does, without its readlink through /proc that only fixes
// up the handle's name (a dozen system calls per lookup on the start
// path). Kernels without openat2 get pathrs-lite's emulation.
func resolveInRoot(root *os.File, p string, flags uint64) (*os.File, error) {
	if !noOpenat2.Load() {
		how := &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for tries := 0; ; tries++ {
			fd, err := unix.Openat2(int(root.Fd()), p, how)
			if err == nil {
				return os.NewFile(uintptr(fd), p), nil
			}
			// A rename or mount anywhere during the walk makes a scoped
			// lookup fail with EAGAIN (or EXDEV): try again, a bounded
			// number of times.
			if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EXDEV)) && tries < 128 {
				continue
			}
			// ENOSYS, or EPERM from a seccomp profile that predates openat2.
			if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
				return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
			}
			noOpenat2.Store(true)
			break
		}
	}
	f, err := pathrs.OpenatInRoot(root, p)
	if err != nil || flags&unix.O_DIRECTORY == 0 {
		return f, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: p, Err: unix.ENOTDIR}
	}
	return f, nil
}
