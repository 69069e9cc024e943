// Package selfexe opens the running berth binary in a form a container
// cannot write to. The init stage is berth re-executed inside the new
// namespaces; if it ran from the host's file, a container process could
// reach that file through /proc/<pid>/exe and overwrite berth on the host
// (CVE-2019-5736). Executing from a detached, read-only bind mount of the
// binary (open_tree + mount_setattr) makes every write fail with EROFS and
// costs two system calls; kernels without the new mount API get a sealed
// memfd copy instead.
package selfexe

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open returns a read-only handle of the running binary that execve can
// run through /proc/self/fd/N. The caller closes it after the fork.
func Open() (*os.File, error) {
	f, err := detachedReadonly("/proc/self/exe")
	if err == nil {
		return f, nil
	}
	return sealedCopy()
}

// detachedReadonly opens path through a new, detached, read-only bind
// mount of it: nothing reached through the handle can be written.
func detachedReadonly(path string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount_setattr: %w", err)
	}
	return os.NewFile(uintptr(fd), "berth"), nil
}

func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return f, nil
}
