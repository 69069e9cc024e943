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
	"strings"

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

// StageName is the C init stage (cmd/berth-stage), beside berth's own
// binary: it does berth-init's work for the configs it knows, without
// starting a second Go runtime.
const StageName = "berth-stage"

// BuildName is berth's builder (cmd/berth-build), beside berth's own.
const BuildName = "berth-build"

// RegistryName is berth's registry client (cmd/berth-registry: pull,
// push, the login check), beside berth's own.
const RegistryName = "berth-registry"

// FormatName runs --format templates berth cannot run itself
// (cmd/berth-format: text/template, whose method lookups by name would
// keep every method in berth).
const FormatName = "berth-format"

// ErrNoNsenter means berth-nsenter is not installed beside berth.
var ErrNoNsenter = errors.New(NsenterName + " is not installed")

// Open returns a read-only handle of the init stage's binary that execve
// can run through /proc/self/fd/N. The caller closes it after the fork.
func Open() (*os.File, error) {
	if f, ok := vouched[InitName]; ok {
		return openVouched(f)
	}
	f, st, ok := openInstalled(InitName)
	if !ok {
		return openReadonly("/proc/self/exe")
	}
	return readonlyHandle(f, st)
}

// OpenNsenter returns a read-only handle of berth-nsenter, as Open does
// for berth-init; it has no built-in copy, so without it this fails with
// ErrNoNsenter.
func OpenNsenter() (*os.File, error) {
	if f, ok := vouched[NsenterName]; ok {
		return openVouched(f)
	}
	f, st, ok := openInstalled(NsenterName)
	if !ok {
		return nil, fmt.Errorf("%w beside %s (root's, writable by root alone): joining a user namespace needs it; reinstall berth (make install)", ErrNoNsenter, ownDir())
	}
	return readonlyHandle(f, st)
}

// OpenStage returns a read-only handle of berth-stage, as Open does for
// berth-init, and false when it is not installed (root's, writable by
// root alone) beside berth: berth-init then does the work.
func OpenStage() (*os.File, bool, error) {
	f, st, ok := openInstalled(StageName)
	if !ok {
		return nil, false, nil
	}
	h, err := readonlyHandle(f, st)
	return h, err == nil, err
}

// openReadonly is the running binary's read-only handle, when no stage
// is installed beside it.
func openReadonly(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	return readonlyHandle(f, st)
}

// readonlyHandle turns f, opened read-only, into a handle nothing can be
// written through, and closes f unless it is that handle: a detached
// read-only mount of it; else, for a caller the kernel refuses that to,
// f itself if it is host root's and writable by root alone and the
// caller holds no privilege over it (no process berth starts can ever
// write it then); else a sealed copy.
func readonlyHandle(f *os.File, st unix.Stat_t) (*os.File, error) {
	h, err := detachedReadonlyFD(int(f.Fd()))
	if err == nil {
		f.Close()
		return h, nil
	}
	if rootOnly(st) && unprivileged() && initialUserNamespace() {
		return f, nil
	}
	defer f.Close()
	return sealedCopy(f)
}

func ownDir() string {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "berth's directory"
	}
	return filepath.Dir(self)
}

// besideSelf is name's path beside the running binary.
func besideSelf(name string) (string, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(self), name), nil
}

// openInstalled opens name beside the running binary, if it is there,
// root's, executable, and writable by no one else. The checks are made on
// the open file: a path swapped after them is never used.
func openInstalled(name string) (*os.File, unix.Stat_t, bool) {
	var st unix.Stat_t
	path, err := besideSelf(name)
	if err != nil {
		return nil, st, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, st, false
	}
	if unix.Fstat(int(f.Fd()), &st) != nil || !rootOnly(st) {
		f.Close()
		return nil, st, false
	}
	return f, st, true
}

// rootOnly reports whether st is a regular, executable file of uid 0
// that no one else may write.
func rootOnly(st unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Uid == 0 && st.Mode&0o022 == 0 && st.Mode&0o100 != 0
}

// unprivileged reports whether this process is not root and holds no
// capability: it cannot write a file root owns and no one else may write.
func unprivileged() bool {
	if os.Geteuid() == 0 {
		return false
	}
	var data [2]unix.CapUserData
	if err := unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}, &data[0]); err != nil {
		return false
	}
	return data[0].Effective == 0 && data[1].Effective == 0
}

// initialUserNamespace reports whether uid 0 as this process sees it is
// the host's root: elsewhere it is whoever the namespace maps to 0.
func initialUserNamespace() bool {
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(m))
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// detachedReadonly opens path through a new, detached, read-only bind
// mount of it: nothing reached through the handle can be written.
func detachedReadonly(path string) (*os.File, error) {
	return detachedReadonlyAt(unix.AT_FDCWD, path, 0)
}

// detachedReadonlyFD is detachedReadonly of the file fd is open on, which
// must be in this process's mount namespace.
func detachedReadonlyFD(fd int) (*os.File, error) {
	return detachedReadonlyAt(fd, "", unix.AT_EMPTY_PATH)
}

func detachedReadonlyAt(dirfd int, path string, flags int) (*os.File, error) {
	fd, err := unix.OpenTree(dirfd, path, uint(flags)|unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
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

// sealedCopy copies src, from its start, into a sealed memfd.
func sealedCopy(src *os.File) (*os.File, error) {
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth")
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
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

// Helper is the path of berth's helper binary name (berth-build), beside
// the running binary, if it is root's and writable by no one else, as
// berth-init must be.
func Helper(name string) (string, error) {
	if v, ok := vouched[name]; ok {
		// Inside a rootless berth's user namespace: the descriptor its
		// starter checked; it stays open until the exec has read it.
		return fmt.Sprintf("/proc/self/fd/%d", v.Fd()), nil
	}
	f, _, ok := openInstalled(name)
	if !ok {
		return "", fmt.Errorf("%s is not installed beside %s (root's, writable by root alone): reinstall berth (make install)", name, ownDir())
	}
	f.Close()
	return besideSelf(name)
}

// HelperFor is Helper for a child that is handed extra descriptors, 3 on
// (exec.Cmd.ExtraFiles): the child puts them in place before the exec
// reads /proc/self/fd/N, so a vouched helper's descriptor among them
// would be replaced (berth-build handed the stages, and berth-registry
// among them, ran berth-registry). It is duplicated above them, close on
// exec; release closes the duplicate once the child has started.
func HelperFor(name string, extra int) (path string, release func(), err error) {
	v, ok := vouched[name]
	if !ok {
		path, err := Helper(name)
		return path, func() {}, err
	}
	fd, err := unix.FcntlInt(v.Fd(), unix.F_DUPFD_CLOEXEC, 3+extra)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { unix.Close(fd) }, nil
}
