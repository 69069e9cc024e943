package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyUp copies directory target (a path inside the container) of a root
// filesystem into dst, a new volume's empty data directory, as docker
// does when a new volume is first mounted over a directory of the image:
// contents, owners, modes and times, and the directory's own owner and
// mode onto dst. layers are the root's directories, top first: an image's
// unpacked layers (overlay whiteouts and opaque directories are honoured)
// or one plain root filesystem.
//
// Nothing is followed: every path is opened a component at a time with
// O_NOFOLLOW, so a symlink in a hostile image (or a container changing
// its --rootfs meanwhile) cannot make berth read host files. When target
// is missing, not a directory or reached through a symlink, nothing is
// copied. Hard links are copied as separate files; devices, sockets and
// extended attributes are not copied.
func CopyUp(layers []string, target, dst string) error {
	var srcs []int
	defer func() { closeAll(srcs) }()
	for _, l := range layers {
		fd, err := unix.Open(l, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("copy up: %w", err)
		}
		srcs = append(srcs, fd)
		if isOpaque(fd) {
			break
		}
	}
	for _, name := range strings.Split(strings.Trim(path.Clean("/"+target), "/"), "/") {
		if name == "" {
			continue
		}
		next, top, _, err := lookup(srcs, name)
		closeAll(srcs)
		srcs = next
		if err != nil {
			return fmt.Errorf("copy up %s: %w", target, err)
		}
		if top == nil || top.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
	}
	if len(srcs) == 0 {
		return nil
	}
	out, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy up: %w", err)
	}
	defer unix.Close(out)
	if err := copyDir(srcs, out); err != nil {
		return fmt.Errorf("copy up %s: %w", target, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(srcs[0], &st); err != nil {
		return err
	}
	if err := unix.Fchown(out, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("copy up %s: %w", target, err)
	}
	return unix.Fchmod(out, st.Mode&0o7777)
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// isOpaque reports whether a layer's directory hides the layers below.
func isOpaque(fd int) bool {
	b := make([]byte, 2)
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", b)
	return err == nil && n == 1 && b[0] == 'y'
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// lookup finds name in the union of directories srcs (top first). top is
// what the union shows (nil: nothing), found in the directory from; when
// that is a directory, dirs are the layers' directories that make it up,
// opened, top first.
func lookup(srcs []int, name string) (dirs []int, top *unix.Stat_t, from int, err error) {
	for _, src := range srcs {
		var st unix.Stat_t
		err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			closeAll(dirs)
			return nil, nil, -1, err
		}
		if top == nil {
			top, from = &st, src
		}
		if isWhiteout(&st) || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A whiteout or a non-directory hides everything below;
			// on top, it is what the union shows.
			if len(dirs) == 0 && isWhiteout(&st) {
				top = nil
			}
			break
		}
		fd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(dirs)
			return nil, nil, -1, err
		}
		dirs = append(dirs, fd)
		if isOpaque(fd) {
			break
		}
	}
	return dirs, top, from, nil
}

// names lists the entries of the union of srcs, sorted.
func names(srcs []int) ([]string, error) {
	var all []string
	for _, src := range srcs {
		fd, err := unix.Openat(src, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		f := os.NewFile(uintptr(fd), ".")
		ns, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, ns...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// copyDir copies the union of srcs into the directory out.
func copyDir(srcs []int, out int) error {
	entries, err := names(srcs)
	if err != nil {
		return err
	}
	for _, name := range entries {
		if err := copyEntry(srcs, out, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(srcs []int, out int, name string) error {
	dirs, top, from, err := lookup(srcs, name)
	defer closeAll(dirs)
	if err != nil || top == nil {
		return err
	}
	switch top.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(out, name, 0o700); err != nil {
			return err
		}
		fd, err := unix.Openat(out, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = copyDir(dirs, fd)
		if err == nil {
			err = setOwnerMode(fd, top)
		}
		unix.Close(fd)
		if err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(from, out, name, top); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := readlinkat(from, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, out, name); err != nil {
			return err
		}
		if err := unix.Fchownat(out, name, int(top.Uid), int(top.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	case unix.S_IFIFO:
		if err := unix.Mknodat(out, name, unix.S_IFIFO|0o600, 0); err != nil {
			return err
		}
		if err := unix.Fchownat(out, name, int(top.Uid), int(top.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(out, name, top.Mode&0o7777, 0); err != nil {
			return err
		}
	default:
		return nil // devices and sockets
	}
	times := []unix.Timespec{top.Atim, top.Mtim}
	return unix.UtimesNanoAt(out, name, times, unix.AT_SYMLINK_NOFOLLOW)
}

func copyFile(from, out int, name string, top *unix.Stat_t) error {
	sfd, err := unix.Openat(from, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(sfd), name)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(sfd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("changed while being copied")
	}
	dfd, err := unix.Openat(out, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(dfd), name)
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	return setOwnerMode(dfd, &st)
}

// setOwnerMode gives fd st's owner, then its mode (chown clears setuid).
func setOwnerMode(fd int, st *unix.Stat_t) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Fchmod(fd, st.Mode&0o7777)
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}
