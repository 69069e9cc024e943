// Package selfexe opens the binary of the init stage in a form a container
// cannot write to: berth-init, installed beside berth and berth-oci, or
// else the running binary itself (which has the init stage built in). The
// init stage runs inside the new namespaces; if it ran from the host's
// file, a container process could reach that file through /proc/<pid>/exe
// and overwrite it on the host (CVE-2019-5736). Executing from a detached, read-only bind mount of the
// binary (open_tree + mount_setattr) makes every write fail with EROFS and
// costs two system calls; kernels without the new mount API get a sealed
// memfd copy instead.
package selfexe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// InitName is the init stage's binary, beside berth's own. It holds the
// init stage alone: a process that starts in a fraction of the time the
// whole berth binary takes (the Go runtime and the package initialization
// of everything berth links, registry client included).
const InitName = "berth-init"

// NsenterName is the single-threaded stage (cmd/berth-nsenter, in C),
// beside berth's own binary: what joins an existing user namespace, which
// the kernel refuses to a multi-threaded (Go) process.
const NsenterName = "berth-nsenter"

// ErrNoNsenter means berth-nsenter is not installed beside berth.
var ErrNoNsenter = errors.New(NsenterName + " is not installed")

// Open returns a read-only handle of the init stage's binary that execve
// can run through /proc/self/fd/N. The caller closes it after the fork.
func Open() (*os.File, error) {
	path, ok := installed(InitName)
	if !ok {
		path = "/proc/self/exe"
	}
	return openReadonly(path)
}

// OpenNsenter returns a read-only handle of berth-nsenter, as Open does
// for berth-init; it has no built-in copy, so without it this fails with
// ErrNoNsenter.
func OpenNsenter() (*os.File, error) {
	path, ok := installed(NsenterName)
	if !ok {
		return nil, fmt.Errorf("%w beside %s (root's, writable by root alone): joining a user namespace needs it; reinstall berth (make install)", ErrNoNsenter, ownDir())
	}
	return openReadonly(path)
}

func openReadonly(path string) (*os.File, error) {
	f, err := detachedReadonly(path)
	if err == nil {
		return f, nil
	}
	return sealedCopy(path)
}

func ownDir() string {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "berth's directory"
	}
	return filepath.Dir(self)
}

// installed is name's path beside the running binary, if it is there,
// root's, executable, and writable by no one else.
func installed(name string) (string, bool) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", false
	}
	path := filepath.Join(filepath.Dir(self), name)
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Mode&0o022 != 0 || st.Mode&0o100 == 0 {
		return "", false
	}
	return path, true
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

func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
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
