package rootfs

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/berth-runtime/berth/internal/procfs"
	"golang.org/x/sys/unix"
)

// LxcfsProcFiles are the only paths inside /proc a config may mount on:
// the files lxcfs emulates for a container, as runc allows. Anything else
// mounted inside /proc could hide or replace a kernel interface the masks
// and read-only paths protect (/proc/sys, /proc/self/attr, ...).
var LxcfsProcFiles = []string{
	"/proc/cpuinfo",
	"/proc/diskstats",
	"/proc/meminfo",
	"/proc/stat",
	"/proc/swaps",
	"/proc/uptime",
	"/proc/loadavg",
	"/proc/slabinfo",
	"/proc/sys/kernel/ns_last_pid",
	"/proc/sys/crypto/fips_enabled",
}

// insideProc reports whether clean absolute path p is /proc or below it.
func insideProc(p string) bool {
	return p == "/proc" || strings.HasPrefix(p, "/proc/")
}

// CheckProcDestination applies runc's rule for mounts in /proc to dst, a
// clean absolute path inside the container: at /proc itself only a proc
// file system (a new one, or a bind whose source mountOne checks is the
// root of one), inside it only LxcfsProcFiles. fsType is the mount's type
// and bind whether it is a bind mount.
func CheckProcDestination(dst, fsType string, bind bool) error {
	if !insideProc(dst) {
		return nil
	}
	if dst == "/proc" {
		if bind || fsType == "proc" {
			return nil
		}
		return fmt.Errorf("%q: only a proc file system may be mounted there", dst)
	}
	for _, f := range LxcfsProcFiles {
		if dst == f {
			return nil
		}
	}
	return fmt.Errorf("%q is inside /proc, where only the files lxcfs provides may be mounted on (%s)", dst, strings.Join(LxcfsProcFiles, ", "))
}

// checkProcTarget checks, once the destination is resolved inside root,
// where the mount really lands: a symlink in the image (/data -> /proc/sys)
// or a ".." after one must not lead around CheckProcDestination, and
// nothing may be mounted on a proc file system mounted elsewhere.
func checkProcTarget(root, target *os.File, m Mount) error {
	dst, err := pathInRoot(root, target)
	if err != nil {
		return err
	}
	if err := CheckProcDestination(dst, m.Type, m.IsBind()); err != nil {
		return err
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(target.Fd()), &fs); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if fs.Type == unix.PROC_SUPER_MAGIC && !insideProc(dst) {
		return fmt.Errorf("%q is on a proc file system: nothing may be mounted on it", dst)
	}
	if dst == "/proc" && m.IsBind() {
		return checkProcRootSource(m.Source)
	}
	return nil
}

// checkProcRootSource accepts a bind at /proc only of the root of a proc
// file system (the host's /proc, say): a directory of any other kind there
// would leave the container without its kernel interfaces, or with fake
// ones.
func checkProcRootSource(src string) error {
	var fs unix.Statfs_t
	if err := unix.Statfs(src, &fs); err != nil {
		return fmt.Errorf("bind source %s: %w", src, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return fmt.Errorf("bind source %s: %w", src, err)
	}
	// The root directory of every procfs instance has inode number 1.
	if fs.Type != unix.PROC_SUPER_MAGIC || st.Ino != 1 {
		return fmt.Errorf("/proc: a bind mount there must be of the root of a proc file system, not %q", src)
	}
	return nil
}

// pathInRoot is where handle f, resolved inside root, is as the container
// will see it.
func pathInRoot(root, f *os.File) (string, error) {
	rootPath, err := procfs.Readlink(root)
	if err != nil {
		return "", fmt.Errorf("resolve rootfs: %w", err)
	}
	p, err := procfs.Readlink(f)
	if err != nil {
		return "", fmt.Errorf("resolve destination: %w", err)
	}
	if rootPath == "/" {
		return path.Clean(p), nil
	}
	rel, ok := strings.CutPrefix(p, rootPath)
	if !ok || (rel != "" && rel[0] != '/') {
		return "", fmt.Errorf("destination resolved to %s, outside the rootfs %s", p, rootPath)
	}
	return path.Clean("/" + rel), nil
}
