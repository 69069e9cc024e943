package image

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUnsafeLayer marks a layer refused because an entry would land outside
// it, pass through a symlink, or break a limit.
var ErrUnsafeLayer = errors.New("unsafe layer")

func unsafef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsafeLayer, fmt.Sprintf(format, args...))
}

// maxPath bounds an entry's path: longer ones cannot be used in a mounted
// root anyway, and walking thousands of components is a cheap attack.
const maxPath = 4096

// cleanPath turns a tar entry name into a path relative to the layer:
// leading slashes are dropped (Docker does the same: an absolute name is
// still inside the layer), "." components vanish, and any ".." is refused
// rather than resolved, since no honest layer has one. "" is the root.
func cleanPath(p string) (string, error) {
	if len(p) > maxPath {
		return "", unsafef("path of %d bytes", len(p))
	}
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", unsafef("path %q escapes the layer", p)
		default:
			out = append(out, c)
		}
	}
	return strings.Join(out, "/"), nil
}

// tree is a directory that berth writes into without ever following a
// symlink: every path is walked a component at a time from a descriptor
// of the root with O_NOFOLLOW, and the last component is acted on with
// *at calls relative to its parent's descriptor. Whatever a hostile layer
// puts in the tree, nothing is created or changed outside it.
type tree struct{ fd int }

func openTree(dir string) (*tree, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return &tree{fd: fd}, nil
}

func (t *tree) close() { unix.Close(t.fd) }

// parent opens the directory that holds rel (a cleaned, non-empty path)
// and returns its descriptor, to be closed by the caller, and rel's last
// component. Missing directories are created (0755, as Docker does) when
// create is set. A component that is a symlink or not a directory is
// refused: no honest layer puts entries under a symlink, and following
// one is how a layer reaches the host.
func (t *tree) parent(rel string, create bool) (int, string, error) {
	dirs := strings.Split(rel, "/")
	base := dirs[len(dirs)-1]
	fd, err := unix.Dup(t.fd)
	if err != nil {
		return -1, "", err
	}
	for _, c := range dirs[:len(dirs)-1] {
		next, err := openDirAt(fd, c, create)
		unix.Close(fd)
		if err != nil {
			return -1, "", err
		}
		fd = next
	}
	return fd, base, nil
}

// openDirAt opens the directory name in dirfd, without following a
// symlink, creating it when asked.
func openDirAt(dirfd int, name string, create bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0)
	if err == unix.ENOENT && create {
		if err := unix.Mkdirat(dirfd, name, 0o755); err != nil && err != unix.EEXIST {
			return -1, fmt.Errorf("mkdir %s: %w", name, err)
		}
		fd, err = unix.Openat(dirfd, name, flags, 0)
		if err == nil {
			// Mkdirat's mode passed through the umask.
			err = unix.Fchmod(fd, 0o755)
		}
	}
	switch err {
	case nil:
		return fd, nil
	case unix.ELOOP, unix.ENOTDIR:
		return -1, unsafef("%s is a symlink or not a directory", name)
	default:
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
}

// removeAt removes name from dirfd, a directory with all its contents,
// never following symlinks. A missing name is not an error.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := clearDir(dirfd, name); err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// clearDir removes everything inside the directory name of dirfd.
func clearDir(dirfd int, name string) error {
	fd, err := openDirAt(dirfd, name, false)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}

// isWhiteout says whether st is overlay's whiteout: a 0:0 character device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// meta is what unpack and Materialize set on every entry they create.
type entryMeta struct {
	uid, gid     int
	mode         uint32 // permission bits with setuid, setgid, sticky
	xattrs       map[string]string
	atime, mtime unix.Timespec
}

// apply sets ownership, mode and extended attributes on fd (a regular
// file or directory opened by us). The order matters: chown clears the
// setuid bits and the file capability, so it comes first.
func (m *entryMeta) apply(fd int) error {
	if err := unix.Fchown(fd, m.uid, m.gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, m.mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	for k, v := range m.xattrs {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", k, err)
		}
	}
	return nil
}

// applyAt sets ownership (and mode, except on symlinks, which have none)
// on name in dirfd without opening it: for symlinks and FIFOs.
func (m *entryMeta) applyAt(dirfd int, name string, symlink bool) error {
	if err := unix.Fchownat(dirfd, name, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if !symlink {
		if err := unix.Fchmodat(dirfd, name, m.mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	return nil
}

// setTimes sets the times of name in dirfd, not following a symlink.
func (m *entryMeta) setTimes(dirfd int, name string) error {
	ts := []unix.Timespec{m.atime, m.mtime}
	if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", name, err)
	}
	return nil
}
