// Package procfs is the init stage's only way into /proc. After pivot_root
// "/proc" is whatever the container's mounts put there: a tmpfs, a bind
// of some other file, an overmount raced in by another container sharing a
// mount (CVE-2025-52881). Every write berth makes to /proc (sysctls,
// oom_score_adj, /proc/self/attr/*), every reopen of a file through
// /proc/self/fd and every mount that names a file by its descriptor
// therefore goes through one procfs handle verified by pathrs-lite
// (filepath-securejoin): a private procfs instance from fsopen("proc") where
// the kernel allows it (a clone of /proc, or /proc itself, checked to be
// the root of a real procfs, where it does not), with lookups confined to
// it (openat2 RESOLVE_NO_XDEV|RESOLVE_NO_MAGICLINKS|RESOLVE_BENEATH).
//
// The handle is opened once per process, on first use, and closed by the
// exec (it is close-on-exec). Nothing here ever resolves a path under
// the container's /proc.
package procfs

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// ErrBadSysctl is returned for a sysctl name that does not name a file
// under /proc/sys.
var ErrBadSysctl = errors.New("invalid sysctl name")

// root is this process's verified procfs, opened on first use. With
// subset=pid (Linux 5.8+) it shows only processes, so /proc/sys needs a
// handle of its own (WriteSysctls).
var root = sync.OnceValues(func() (*procfs.Handle, error) {
	h, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, fmt.Errorf("open a verified procfs: %w", err)
	}
	return h, nil
})

// fdDir is /proc/self/fd of the verified procfs: the directory in which
// a descriptor's number names its file (see InFdDir).
var fdDir = sync.OnceValues(func() (*os.File, error) {
	h, err := root()
	if err != nil {
		return nil, err
	}
	// The descriptor table is the process's, shared by all its threads:
	// /proc/self/fd names the same files on whichever thread uses it.
	d, err := h.OpenSelf("fd")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/fd of the verified procfs: %w", err)
	}
	return d, nil
})

// Open opens this process's verified procfs now rather than on first use,
// and keeps reopening files through it: a process about to enter a mount
// namespace whose /proc belongs to another PID namespace (an exec into a
// container with a user namespace, whose root may not mount a procfs for
// the host's PID namespace it stays in) keeps the one it can see itself
// in. pathrs-lite would open "/proc" anew for each reopen (it keeps only a
// private instance, which that root cannot make), and find the
// container's, which does not show this process. The kept instance is the
// host's, opened before the container's mount namespace was joined: the
// container cannot mount anything on it.
func Open() error {
	if _, err := fdDir(); err != nil {
		return err
	}
	kept.Store(true)
	return nil
}

// kept is set by Open.
var kept atomic.Bool

// reopen opens the file behind f anew with flags through /proc/self/fd:
// pathrs-lite's checked reopen, or after Open the kept instance's.
func reopen(f *os.File, flags int) (*os.File, error) {
	if !kept.Load() {
		return pathrs.Reopen(f, flags)
	}
	dir, err := fdDir()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(int(dir.Fd()), strconv.Itoa(int(f.Fd())), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// WriteSelf writes data to /proc/thread-self/subpath of the verified
// procfs, as oom_score_adj and the LSM's attr/exec need. The thread is the
// calling one: the init stage runs on its main thread, which execs.
func WriteSelf(subpath string, data []byte) error {
	h, err := root()
	if err != nil {
		return err
	}
	f, closeThread, err := h.OpenThreadSelf(subpath)
	if err != nil {
		return fmt.Errorf("open /proc/thread-self/%s: %w", subpath, err)
	}
	defer closeThread()
	return writeReopened(f, "/proc/thread-self/"+subpath, data)
}

// WriteSysctls writes each sysctl to its file under /proc/sys of a
// verified procfs, in name order. The values land in the calling thread's
// namespaces (network, IPC, UTS), which is what the container's are.
func WriteSysctls(sysctls map[string]string) error {
	if len(sysctls) == 0 {
		return nil
	}
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		if _, err := SysctlPath(k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// A procfs with subset=pid has no /proc/sys: one full instance serves
	// all of them, closed when done.
	h, err := procfs.OpenUnsafeProcRoot()
	if err != nil {
		return fmt.Errorf("open a verified procfs for sysctls: %w", err)
	}
	defer h.Close()
	for _, k := range keys {
		p, _ := SysctlPath(k)
		f, err := h.OpenRoot(p)
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
		if err := writeReopened(f, "/proc/"+p, []byte(sysctls[k])); err != nil {
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
	}
	return nil
}

// SysctlPath is the file of sysctl name under /proc: "net.ipv4.ip_forward"
// is "sys/net/ipv4/ip_forward". A name with an empty, "." or ".."
// component is refused: it would leave /proc/sys.
func SysctlPath(name string) (string, error) {
	if !ValidSysctl(name) {
		return "", fmt.Errorf("%w: %q", ErrBadSysctl, name)
	}
	return "sys/" + strings.ReplaceAll(name, ".", "/"), nil
}

// ValidSysctl reports whether SysctlPath takes name: no part of it,
// between dots or slashes, is empty, "." or "..". It allocates nothing
// (the compact config checks each sysctl on every start).
func ValidSysctl(name string) bool {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' && name[i] != '/' {
			continue
		}
		if part := name[start:i]; part == "" || part == "." || part == ".." {
			return false
		}
		start = i + 1
	}
	return true
}

// writeReopened opens the O_PATH handle f for writing through the verified
// procfs, writes data and closes both.
func writeReopened(f *os.File, name string, data []byte) error {
	w, err := reopen(f, unix.O_WRONLY|unix.O_TRUNC)
	f.Close()
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// Reopen opens the file behind f (often an O_PATH handle) anew with flags,
// through /proc/thread-self/fd of a verified procfs.
func Reopen(f *os.File, flags int) (*os.File, error) {
	r, err := reopen(f, flags)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", f.Name(), err)
	}
	return r, nil
}

// InFdDir runs fn with the working directory in /proc/self/fd of the
// verified procfs, and restores it after. There the decimal number of a
// descriptor is a name for its file that the kernel follows like
// /proc/self/fd/N, which is how mount(2), which takes only paths, is
// given files already resolved and checked. fn must not use other
// relative paths.
func InFdDir(fn func() error) error {
	dir, err := fdDir()
	if err != nil {
		return err
	}
	saved, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("save working directory: %w", err)
	}
	defer unix.Close(saved)
	if err := unix.Fchdir(int(dir.Fd())); err != nil {
		return fmt.Errorf("enter /proc/self/fd: %w", err)
	}
	err = fn()
	if rerr := unix.Fchdir(saved); rerr != nil && err == nil {
		err = fmt.Errorf("restore working directory: %w", rerr)
	}
	return err
}

// Readlink is the path of the file behind f, as the kernel names it (a
// check, never a path to open again): its entry in /proc/self/fd of the
// verified procfs, read with one readlinkat. The directory is this
// process's own procfs instance, opened once, where nothing can be
// mounted over an entry.
func Readlink(f *os.File) (string, error) {
	dir, err := fdDir()
	if err != nil {
		return "", err
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(dir.Fd()), strconv.Itoa(int(f.Fd())), buf)
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", f.Name(), err)
	}
	return string(buf[:n]), nil
}
